import { consume } from './consume';
import { tf } from './tf';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TANH_SCALE = Math.sqrt(2 / Math.PI);
const TANH_CUBIC = 0.044715;

/**
 * GELU with the exact erf form (Hendrycks & Gimpel, "Gaussian Error Linear Units", §2:
 * x·Φ(x)), forward op for op as the plain 0.5·x·(1 + erf(x/√2)), as a custom-gradient op that keeps
 * only x. Backward: d/dx x·Φ(x) = Φ(x) + x·φ(x). The plain formulation's tape keeps four
 * x-sized tensors (x, x/√2, 0.5·x, 1 + erf).
 */
export function geluErfOp(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input]);
    return {
      // 0.5·x·(1 + erf(x/√2)) step by step, each temporary freed once used (see consume).
      value: (() => {
        let cdf = tf.mul(input, Math.SQRT1_2);
        cdf = consume(cdf, tf.erf(cdf));
        cdf = consume(cdf, tf.add(1, cdf));
        const half = tf.mul(input, 0.5);
        return consume([half, cdf], tf.mul(half, cdf));
      })(),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // Step by step, each temporary freed once used (see consume).
        const xs = saved[0]!;
        let slope = tf.square(xs);
        slope = consume(slope, tf.mul(slope, -0.5));
        slope = consume(slope, tf.exp(slope));
        slope = consume(slope, tf.mul(slope, INV_SQRT_2PI));
        slope = consume(slope, tf.mul(xs, slope));
        let cdf = tf.mul(xs, Math.SQRT1_2);
        cdf = consume(cdf, tf.erf(cdf));
        cdf = consume(cdf, tf.add(cdf, 1));
        cdf = consume(cdf, tf.mul(cdf, 0.5));
        const derivative = consume([cdf, slope], tf.add(cdf, slope));
        return consume(derivative, tf.mul(dy, derivative));
      },
    };
  });
  return (op as (x: tf.Tensor) => tf.Tensor)(x);
}

/**
 * GELU with the tanh approximation (GPT-2's `gelu_new`): 0.5·x·(1 + tanh(u)), u = √(2/π)·(x +
 * 0.044715·x³), keeping only x. Backward: 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²).
 */
export function geluTanhOp(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([input]);
    return {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) step by step, as the plain formulation's ops.
      value: (() => {
        let inner = tf.pow(input, 3);
        inner = consume(inner, tf.mul(TANH_CUBIC, inner));
        inner = consume(inner, tf.add(input, inner));
        inner = consume(inner, tf.mul(TANH_SCALE, inner));
        inner = consume(inner, tf.tanh(inner));
        inner = consume(inner, tf.add(1, inner));
        const half = tf.mul(input, 0.5);
        return consume([half, inner], tf.mul(half, inner));
      })(),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // Step by step, each temporary freed once used (see consume).
        const xs = saved[0]!;
        const square = tf.square(xs);
        let t = tf.mul(square, xs);
        t = consume(t, tf.mul(t, TANH_CUBIC));
        t = consume(t, tf.add(xs, t));
        t = consume(t, tf.mul(t, TANH_SCALE));
        t = consume(t, tf.tanh(t));
        let inner = consume(square, tf.mul(square, 3 * TANH_CUBIC));
        inner = consume(inner, tf.add(inner, 1));
        inner = consume(inner, tf.mul(inner, TANH_SCALE));
        let sech2 = tf.square(t);
        sech2 = consume(sech2, tf.sub(1, sech2));
        let slope = consume([sech2, inner], tf.mul(sech2, inner));
        slope = consume(slope, tf.mul(slope, xs));
        slope = consume(slope, tf.mul(slope, 0.5));
        let half = consume(t, tf.add(t, 1));
        half = consume(half, tf.mul(half, 0.5));
        const derivative = consume([half, slope], tf.add(half, slope));
        return consume(derivative, tf.mul(dy, derivative));
      },
    };
  });
  return (op as (x: tf.Tensor) => tf.Tensor)(x);
}
