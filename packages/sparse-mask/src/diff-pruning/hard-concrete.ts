import { tf } from '@peftjs/core';

/** The hard-concrete distribution's settings (Louizos, Welling and Kingma, "Learning Sparse Neural Networks through L0 Regularization", §4.2). */
export interface HardConcrete {
  temperature: number;
  /** The stretch interval (l, r). */
  stretch: readonly [number, number];
}

/**
 * A hard-concrete mask z ∈ [0, 1] from log α (Guo, Rush and Kim, "Parameter-Efficient Transfer
 * Learning with Diff Pruning", §3.1, after Louizos et al.): with u ~ U(0, 1),
 * s = σ((log u − log(1 − u) + log α) / β), s̄ = s·(r − l) + l, z = min(1, max(0, s̄)).
 * `seed` undefined gives the deterministic test-time mask z = min(1, max(0, σ(log α)·(r − l) + l)).
 */
export function hardConcreteMask(logAlpha: tf.Tensor, settings: HardConcrete, seed?: number): tf.Tensor {
  const [l, r] = settings.stretch;
  return tf.tidy(() => {
    let s: tf.Tensor;
    if (seed === undefined) s = tf.sigmoid(logAlpha);
    else {
      const u = tf.randomUniform(logAlpha.shape, 1e-6, 1 - 1e-6, 'float32', seed);
      s = tf.sigmoid(tf.div(tf.add(tf.sub(tf.log(u), tf.log(tf.sub(1, u))), logAlpha), settings.temperature));
    }
    return tf.clipByValue(tf.add(tf.mul(s, r - l), l), 0, 1);
  });
}

/** P(z ≠ 0) per entry: σ(log α − β·log(−l/r)) (Guo et al. §3.1, the expected-L0 term). */
export function nonZeroProbability(logAlpha: tf.Tensor, settings: HardConcrete): tf.Tensor {
  const [l, r] = settings.stretch;
  return tf.sigmoid(tf.sub(logAlpha, settings.temperature * Math.log(-l / r)));
}
