import { PeftError, invalidArgument } from '../errors/peft-error';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { extendPaddingMask } from './attention-mask';
import type { Embeddings } from './embeddings';
import type { DescribedModel, ModelInfo } from './model-info';
import type { LayerModule, LayerRunner } from './slots';
import type { TransformerStack } from './transformer-stack';
import type { ModelInputs, ModelOutput, TaskModel, TaskType } from './types';

/**
 * What BertModel and GptModel share: embeddings -> stack of blocks (through the layer runner)
 * -> task head, one forward inside tf.tidy, every returned tensor owned by the caller.
 * Subclasses build the children and say how the head reads the last hidden state.
 */
export abstract class ReferenceTransformer extends Module<[inputs: ModelInputs], ModelOutput> implements TaskModel, DescribedModel {
  abstract readonly task: TaskType;
  /** The architecture fields every reference model's parsed config has. */
  abstract readonly config: {
    vocabSize: number;
    hiddenSize: number;
    numLayers: number;
    numHeads: number;
    intermediateSize: number;
    maxPositions: number;
    preLayerNorm: boolean;
    numLabels?: number;
  };
  /** The stack's child name: `encoder` (BERT) or `decoder` (GPT-2). */
  protected abstract readonly stackName: 'encoder' | 'decoder';

  constructor() {
    super();
    this.role = 'model';
  }

  /** What methods may know about this model: sizes, task and where each extension point is. */
  modelInfo(): ModelInfo {
    const c = this.config;
    const layers = this.layers().map((_, i) => `${this.stackName}.layers.${i}`);
    const hasHead = this.maybeChild('head') !== undefined;
    return {
      architecture: this.stackName === 'encoder' ? 'encoder' : 'decoder',
      task: this.task,
      hiddenSize: c.hiddenSize,
      numHeads: c.numHeads,
      headDim: c.hiddenSize / c.numHeads,
      numLayers: c.numLayers,
      intermediateSize: c.intermediateSize,
      vocabSize: c.vocabSize,
      maxPositions: c.maxPositions,
      preLayerNorm: c.preLayerNorm,
      ...(this.task === 'sequence-classification' || this.task === 'regression' || this.task === 'token-classification' ? { numLabels: c.numLabels } : {}),
      paths: {
        layers,
        attention: layers.map((path) => `${path}.attention`),
        ffn: layers.map((path) => `${path}.ffn`),
        embeddings: 'embeddings',
        stack: this.stackName,
        ...(hasHead ? { head: 'head' } : {}),
      },
    };
  }

  get embeddings(): Embeddings {
    return this.child<Embeddings>('embeddings');
  }

  get stack(): TransformerStack {
    return this.child<TransformerStack>(this.stackName);
  }

  /** The blocks in order (`<stack>.layers.<i>`). */
  layers(): LayerModule[] {
    return this.stack.layers();
  }

  /** How the blocks are run (default: a plain loop). */
  get layerRunner(): LayerRunner {
    return this.stack.layerRunner;
  }

  set layerRunner(runner: LayerRunner) {
    this.stack.layerRunner = runner;
  }

  /**
   * Where the real tokens' positions start. HF transformers counts prefix (past key/value) rows
   * as earlier positions (`past_key_values_length`, taken from the first layer), so with a
   * prefix of P rows in the first block the positions start at P, as with HF PEFT prefix tuning.
   */
  prefixPositionOffset(): number {
    const first = this.layers()[0];
    if (!first) return 0;
    for (const [path, module] of first.namedModules()) {
      if (path.split('.').at(-1) !== 'prefix') continue;
      const length = (module as { length?: unknown }).length;
      if (typeof length === 'number') return length;
    }
    return 0;
  }

  /**
   * Runs the model. Token-level logits (token classification, masked and causal LM) have one row
   * per input token: soft-prompt rows are stripped before the head. Pooled heads read the full
   * sequence, as HF PEFT does (BERT's pooler takes position 0, the first soft token when a
   * prompt is present).
   */
  forward(inputs: ModelInputs): ModelOutput {
    return tf.tidy(() => {
      const { inputIds, attentionMask, tokenTypeIds } = inputs;
      if (inputIds.rank !== 2) invalidArgument('inputIds.shape', inputIds.shape, '[batch, seq]');
      if (attentionMask && !tf.util.arraysEqual(attentionMask.shape, inputIds.shape)) {
        invalidArgument('attentionMask.shape', attentionMask.shape, `[${inputIds.shape.join(', ')}] like inputIds`);
      }
      if (tokenTypeIds && !tf.util.arraysEqual(tokenTypeIds.shape, inputIds.shape)) {
        invalidArgument('tokenTypeIds.shape', tokenTypeIds.shape, `[${inputIds.shape.join(', ')}] like inputIds`);
      }
      const outputHiddenStates = inputs.outputHiddenStates ?? false;
      const hidden = this.embeddings.forward({ inputIds, ...(tokenTypeIds ? { tokenTypeIds } : {}), positionOffset: this.prefixPositionOffset() });
      const promptLength = hidden.shape[1]! - inputIds.shape[1]!;
      const mask = attentionMask ? extendPaddingMask(attentionMask, promptLength) : undefined;
      const result = this.stack.forward(hidden, mask ? { attentionMask: mask } : {}, { outputHiddenStates });
      const logits = this.headLogits(result.hidden, promptLength, mask);
      const output: ModelOutput = { logits, lastHiddenState: result.hidden, promptLength };
      if (outputHiddenStates) output.hiddenStates = result.hiddenStates ?? [];
      return output as ModelOutput & tf.TensorContainerObject;
    });
  }

  /** Head logits from the last hidden state [batch, P + seq, hidden] (P soft-prompt rows). */
  protected abstract headLogits(last: tf.Tensor, promptLength: number, attentionMask: tf.Tensor | undefined): tf.Tensor;

  abstract taskLoss(output: ModelOutput, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar;

  /** The HF module name at one of our paths, or undefined. */
  protected abstract hfModuleNameOrUndefined(path: string): string | undefined;

  /**
   * The HF transformers module name of one of our module paths, for checkpoint and HF PEFT key
   * names. A path HF has no module for (slots, dropouts, our `ffn` container) is an error.
   */
  hfModuleName(path: string): string {
    const name = this.hfModuleNameOrUndefined(path);
    if (name === undefined) {
      throw new PeftError('invalid-argument', `Module path "${path}" has no counterpart in HF transformers.`, {
        field: 'path',
        value: path,
        allowed: 'a path of a module HF has (embeddings, blocks, their attention/linear/norm modules, pooler, head)',
      });
    }
    return name;
  }

  /** The tied word-embedding table [vocab, hidden]. */
  protected wordEmbeddingTable(): tf.Tensor {
    return this.getModule('embeddings.word').parameter('weight').value;
  }
}

/** hidden [batch, P + seq, hidden] without its first P rows. */
export function stripPrompt(hidden: tf.Tensor, promptLength: number): tf.Tensor {
  if (promptLength === 0) return hidden;
  const [batch, total, size] = hidden.shape as [number, number, number];
  return hidden.slice([0, promptLength, 0], [batch, total - promptLength, size]);
}
