import { tf } from '../nn/tf';

/**
 * Runs `make` as the forward of a custom-gradient op that has no inputs. Ops inside a
 * custom-gradient forward are not recorded on the tape (TFJS-NOTES: "The tape and memory"), and
 * an op without inputs connects to nothing, so the returned tensor is a constant to any gradient
 * computation around it. `make` must return a tensor it owns (a fresh one or a view).
 */
export function untaped(make: () => tf.Tensor): tf.Tensor {
  const op = tf.customGrad(() => ({ value: make(), gradFunc: () => [] }));
  return (op as unknown as () => tf.Tensor)();
}

/** A new tensor over the same data (a reshape to the same shape shares the buffer on every stock backend). */
export function view(x: tf.Tensor): tf.Tensor {
  return tf.reshape(x, x.shape);
}
