import type { tf } from '../nn/tf';
import { untaped, view } from './untaped';

/**
 * Stop-gradient: the same values as `x` (sharing its buffer), with no gradient path back to `x`.
 * Gradients reach `x` only through its other uses. Where `x` reaches the loss only through
 * `detach`, `x` is unconnected: `tf.grads` reports it as such and `tf.variableGrads` leaves it
 * out (as `torch.autograd.grad` does for unused inputs), rather than returning a zero tensor, so
 * no zero gradient is propagated back through whatever produced `x`.
 *
 * ```ts
 * const target = detach(teacherLogits); // a constant for the loss below
 * const loss = tf.losses.meanSquaredError(target, studentLogits);
 * ```
 */
export function detach<T extends tf.Tensor>(x: T): T {
  return untaped(() => view(x)) as T;
}
