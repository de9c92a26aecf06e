import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';

/**
 * a + b where b has a's shape or a's trailing shape (a bias over the last axes), with a gradient
 * that keeps nothing alive. tfjs's Add saves both inputs for backward (only to read their shapes),
 * so `x·W + bias` in every Linear, or `y + update` in an adapter, holds an extra activation-sized
 * tensor per layer until backward ends; here the gradient is dy for a and dy summed over the
 * leading axes for b, and nothing is saved.
 */
export function leanAdd<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  const lead = a.rank - b.rank;
  if (lead < 0 || b.shape.some((size, axis) => size !== a.shape[lead + axis])) {
    throw new PeftError('invalid-argument', `leanAdd needs b of a's shape or of its trailing shape; got [${a.shape}] and [${b.shape}].`, {
      field: 'b.shape',
      value: b.shape,
      allowed: `a suffix of [${a.shape}]`,
    });
  }
  const leadingAxes = Array.from({ length: lead }, (_, axis) => axis);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.add(args[0] as tf.Tensor, args[1] as tf.Tensor),
    // Two distinct tensors: the engine disposes each input's gradient after accumulating it, so the
    // same dy handed out twice breaks when both inputs lead back to one tensor (y + f(y)).
    gradFunc: (dy: tf.Tensor) => [dy, lead === 0 ? tf.clone(dy) : tf.sum(dy, leadingAxes)],
  }));
  return op(a, b) as T;
}
