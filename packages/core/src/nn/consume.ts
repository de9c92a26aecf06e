import { tf } from './tf';

/**
 * Returns `next` after disposing `done`, the tensors `next` was computed from that nothing needs
 * any more. Custom-gradient functions chain their steps with it so that at most a couple of
 * activation-sized temporaries are alive at a time, where a tidy would hold every one of them to
 * its end (the peak of a training step is often inside such a function).
 */
export function consume<T extends tf.Tensor>(done: tf.Tensor | tf.Tensor[], next: T): T {
  tf.dispose(done);
  return next;
}
