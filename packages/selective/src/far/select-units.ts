import { tf } from '@peftjs/core';

/**
 * FAR's importance of each output unit of a linear: the L1 distance between its primed and original
 * weights (a column of our [in, out] weight, a row of the paper's [out, in]) plus its bias entry.
 */
export function unitChange(original: { weight: tf.Tensor2D; bias?: tf.Tensor1D }, primed: { weight: tf.Tensor2D; bias?: tf.Tensor1D }): Float32Array {
  return tf.tidy(() => {
    let change: tf.Tensor = tf.sum(tf.abs(tf.sub(primed.weight, original.weight)), 0);
    if (original.bias && primed.bias) change = tf.add(change, tf.abs(tf.sub(primed.bias, original.bias)));
    return change.dataSync() as Float32Array;
  });
}

/** The indices of the k largest scores (ties to the lower index), ascending. */
export function topUnits(scores: ArrayLike<number>, k: number): number[] {
  return Array.from(scores, (score, unit) => ({ score, unit }))
    .sort((a, b) => b.score - a.score || a.unit - b.unit)
    .slice(0, k)
    .map(({ unit }) => unit)
    .sort((a, b) => a - b);
}

/** How many units of `outFeatures` a fraction trains: rounded, at least one. */
export function unitsFor(outFeatures: number, fraction: number): number {
  return Math.min(outFeatures, Math.max(1, Math.round(fraction * outFeatures)));
}
