import { createBert, createGpt, setGlobalSeed, tf, type Batch, type ReferenceTransformer } from '@peftjs/core';
import type { ConformanceModel } from '@peftjs/core/testing';

/** A tiny BERT classifier without dropout. */
export function tinyBert(seed = 7): ReferenceTransformer {
  setGlobalSeed(seed);
  return createBert({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 64, hiddenDropout: 0, attentionDropout: 0, initStd: 0.3, task: 'sequence-classification', numLabels: 3 });
}

/** A tiny GPT-2 language model without dropout. */
export function tinyGpt(seed = 7): ReferenceTransformer {
  setGlobalSeed(seed);
  return createGpt({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 64, hiddenDropout: 0, attentionDropout: 0, embeddingDropout: 0, initStd: 0.3, task: 'causal-lm' });
}

/** The conformance suite's GPT-2 (a tiny classifier). */
export function conformanceGpt(): ConformanceModel {
  setGlobalSeed(4321);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 64, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 }) as unknown as ConformanceModel;
}

/** A padded batch of two sequences with labels for a classifier (or the ids themselves for a causal LM). */
export function paddedBatch(task: 'classification' | 'causal-lm'): Batch {
  const ids = [
    [3, 5, 7, 9, 11, 13],
    [2, 4, 6, 0, 0, 0],
  ];
  const mask = [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0],
  ];
  return {
    inputIds: tf.tensor2d(ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(mask, undefined, 'float32'),
    labels: task === 'classification' ? tf.tensor1d([2, 0], 'int32') : tf.tensor2d(ids, undefined, 'int32'),
  };
}

/** A loss with O(1) gradients: the real tokens' last hidden states against fixed N(0, 1) weights. */
export function weightedHiddenLoss(model: { forward(batch: Batch): { lastHiddenState: tf.Tensor; promptLength?: number } }, batch: Batch, seed = 5): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      const output = model.forward(batch);
      const hidden = output.lastHiddenState;
      const [b, total, size] = hidden.shape as [number, number, number];
      const prompt = output.promptLength ?? 0;
      const real = hidden.slice([0, prompt, 0], [b, total - prompt, size]);
      return tf.sum(tf.mul(real, tf.randomNormal(real.shape, 0, 1, 'float32', seed))).div(b) as tf.Scalar;
    });
}
