import type { Module } from '../nn/module';
import type { TaskType } from './types';

/**
 * What a method may know about the model it is applied to, without guessing from class names or
 * probing config fields. The reference models describe themselves; any model can implement
 * `DescribedModel` to get methods that need it (prefix and prompt methods, per-layer schedules).
 */
export interface ModelInfo {
  /** `encoder` (BERT-style, bidirectional) or `decoder` (GPT-style, causal). */
  architecture: 'encoder' | 'decoder';
  task: TaskType;
  hiddenSize: number;
  numHeads: number;
  headDim: number;
  numLayers: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  /** Pre-LN (x + f(LN(x))) rather than post-LN (LN(x + f(x))) blocks. */
  preLayerNorm: boolean;
  /** Number of labels of a classification head, when the task has one. */
  numLabels?: number;
  /** Where the extension points are, as module paths. */
  paths: {
    /** The blocks, in order (`encoder.layers.0`, ...). */
    layers: string[];
    /** Each block's attention sublayer (also the holder of its `prefix` slot). */
    attention: string[];
    /** Each block's feed-forward sublayer. */
    ffn: string[];
    /** The embeddings (holder of the `prompt` slot). */
    embeddings: string;
    /** The stack whose layer runner can be replaced. */
    stack: string;
    /** The task head, when there is one. */
    head?: string;
  };
}

/** A model that describes itself to methods. */
export interface DescribedModel {
  modelInfo(): ModelInfo;
}

/** The model's description, or undefined for a module tree that does not give one. */
export function modelInfoOf(model: Module<any, any>): ModelInfo | undefined {
  const candidate = model as unknown as Partial<DescribedModel>;
  return typeof candidate.modelInfo === 'function' ? candidate.modelInfo() : undefined;
}
