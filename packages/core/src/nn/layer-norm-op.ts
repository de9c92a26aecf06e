import { sumRows } from './sum-rows';
import { tf } from './tf';

/**
 * Layer normalisation over the last axis (Ba et al., "Layer Normalization", §3.1):
 * gamma·x̂ + beta with x̂ = (x−μ)/√(σ²+ε), the forward op for op as the plain formulation, as a
 * custom-gradient op that keeps x̂ and the per-row 1/√(σ²+ε) only. Backward, with g = dy·gamma and
 * means over the last axis: dx = (g − mean(g) − x̂·mean(g·x̂)) / √(σ²+ε), dgamma = Σ dy·x̂,
 * dbeta = Σ dy over the leading axes. The plain formulation's tape keeps x, x−μ, the variance
 * chain and x̂·gamma besides.
 */
export function layerNormOp(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const axis = x.rank - 1;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[3] as tf.GradSaveFunc;
    const [value, normalized, inverseStd] = tf.tidy(() => {
      const { mean, variance } = tf.moments(input, axis, true);
      const rstd = tf.rsqrt(tf.add(variance, eps));
      const xHat = tf.mul(tf.sub(input, mean), rstd);
      return [tf.add(tf.mul(xHat, g), b), xHat, rstd];
    });
    // gamma is read again in backward: a variable stays alive with its owner, a computed one is saved.
    const keepGamma = !(g instanceof tf.Variable);
    save([normalized!, inverseStd!, ...(keepGamma ? [g] : [])]);
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xHat, rstd, savedGamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
          const scaled = tf.mul(dy, savedGamma ?? g);
          const centred = tf.sub(scaled, tf.mean(scaled, axis, true));
          const dx = tf.mul(tf.sub(centred, tf.mul(xHat, tf.mean(tf.mul(scaled, xHat), axis, true))), rstd);
          return [dx, sumRows(tf.mul(dy, xHat)), sumRows(dy)];
        }),
    };
  });
  return (op as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor)(x, gamma, beta);
}
