import { tf } from '@peftjs/core';

/**
 * (x ⊙ l)·W for a frozen W, with a gradient that keeps only x and l: plain ops would also keep
 * x ⊙ l (an FFN-intermediate-sized tensor) for the matMul's backward. Backward:
 * ∂x = (dy·Wᵀ) ⊙ l and ∂l = Σ_rows (dy·Wᵀ) ⊙ x. W is read from the closure and gets no gradient,
 * so use it only when W is not trained.
 */
export function scaledInputLinear(x: tf.Tensor, scale: tf.Tensor, frozenWeight: tf.Tensor2D): tf.Tensor {
  const inFeatures = x.shape[x.shape.length - 1]!;
  const outFeatures = frozenWeight.shape[1];
  const lead = x.shape.slice(0, -1);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, vector] = args as [tf.Tensor, tf.Tensor];
    const save = args[2] as tf.GradSaveFunc;
    save([input, vector]);
    return {
      // tidy frees x ⊙ l as soon as the product exists.
      value: tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(tf.mul(input, vector), [-1, inFeatures]) as tf.Tensor2D, frozenWeight), [...lead, outFeatures])),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
        const [savedInput, savedVector] = saved as [tf.Tensor, tf.Tensor];
        const dScaled = tf.reshape(tf.matMul(tf.reshape(dy, [-1, outFeatures]) as tf.Tensor2D, frozenWeight, false, true), savedInput.shape);
        const axes = Array.from({ length: savedInput.rank - 1 }, (_, axis) => axis);
        return [tf.mul(dScaled, savedVector), tf.sum(tf.mul(dScaled, savedInput), axes)];
        }),
    };
  });
  return op(x, scale);
}
