import { PeftError, tf } from '@peftjs/core';

/**
 * How two prompts [P, d] are compared (Vu et al., "SPoT", §4.1 "Task embeddings"): 'average-tokens'
 * (default; the paper's COSINE SIMILARITY OF AVERAGE TOKENS, cos(mean_i a_i, mean_j b_j)) or 'per-token'
 * (the paper's PER-TOKEN AVERAGE COSINE SIMILARITY, mean_{i,j} cos(a_i, b_j)).
 */
export type PromptSimilarityMetric = 'average-tokens' | 'per-token';

/** Cosine similarity of two prompts under `metric`; prompts may differ in length but not in width. */
export function promptSimilarity(a: tf.Tensor, b: tf.Tensor, metric: PromptSimilarityMetric = 'average-tokens'): number {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[1]) {
    throw new PeftError('invalid-argument', `Prompts to compare must be [P, d] of the same d; got [${a.shape.join(', ')}] and [${b.shape.join(', ')}].`, { field: 'prompt.shape', value: [a.shape, b.shape], allowed: '[P, d] and [Q, d]' });
  }
  return tf.tidy(() => {
    const unit = (x: tf.Tensor) => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), 1e-12));
    if (metric === 'average-tokens') return tf.sum(tf.mul(unit(tf.mean(a, 0, true)), unit(tf.mean(b, 0, true)))).dataSync()[0]!;
    return tf.mean(tf.matMul(unit(a), unit(b), false, true)).dataSync()[0]!;
  });
}
