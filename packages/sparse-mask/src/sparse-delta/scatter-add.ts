import { tf } from '@peftjs/core';

/**
 * W = W0 + scatter(indices, values) as one custom-gradient op (Fu et al., "On the Effectiveness of
 * Parameter-Efficient Fine-Tuning", §2, Definition 1: θ = θ0 + M ⊙ Δθ with Δθ stored only where M = 1).
 *
 * Only `values` is differentiated: the backward is a gather of dy at the indices, so the gradient
 * is k numbers, never a dense tensor of the weight's size. The tape keeps no intermediate of the
 * forward (custom-gradient ops record only their output); `base` and `indices` are closed over.
 *
 * @param base the frozen weight (any shape), read as flat row-major entries
 * @param indices int32 [k] flat indices (duplicates add up)
 * @param values float32 [k] the deltas at those indices
 */
export function scatterAdd(base: tf.Tensor, indices: tf.Tensor1D, values: tf.Tensor1D): tf.Tensor {
  const size = base.size;
  const shape = base.shape;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.tidy(() => tf.add(tf.reshape(base, [size]), tf.scatterND(tf.expandDims(indices, 1), args[0] as tf.Tensor, [size])).reshape(shape)),
    gradFunc: (dy: tf.Tensor) => tf.gather(tf.reshape(dy, [size]), indices),
  }));
  return op(values);
}
