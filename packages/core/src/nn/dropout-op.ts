import { tf } from './tf';

/**
 * Inverted dropout with the same values as `tf.dropout(x, rate, undefined, seed)` (the same
 * uniform draw, multiplier floor(u + keep) / keep), as a custom-gradient op that keeps a boolean
 * keep-mask (1 byte an element) for backward. tf.dropout's tape keeps x and the float32
 * multiplier instead (8 bytes an element).
 */
export function dropoutOp(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  const keepProbability = 1 - rate;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const [value, keep] = tf.tidy(() => {
      const multiplier = dropoutMultiplier(input.shape, keepProbability, seed);
      return [tf.mul(input, multiplier), tf.cast(multiplier, 'bool')];
    });
    save([keep!]);
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => tf.mul(dy, tf.div(tf.cast(saved[0]!, 'float32'), keepProbability))),
    };
  });
  return (op as (x: tf.Tensor) => tf.Tensor)(x);
}

/** tf.dropout's multiplier: 1/keep where kept, 0 where dropped, from the seeded uniform draw. */
export function dropoutMultiplier(shape: number[], keepProbability: number, seed: number): tf.Tensor {
  // Step by step, freeing each input once used: at most two mask-sized tensors alive at a time.
  const uniform = tf.randomUniform(shape, 0, 1, 'float32', seed);
  const shifted = tf.add(uniform, keepProbability);
  uniform.dispose();
  const floored = tf.floor(shifted);
  shifted.dispose();
  const multiplier = tf.div(floored, keepProbability);
  floored.dispose();
  return multiplier;
}
