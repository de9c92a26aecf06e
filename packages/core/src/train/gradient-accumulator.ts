import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';

/**
 * Sums gradients over micro-batches and returns their mean, so N micro-batches of B examples
 * give the gradient of one batch of N·B for a mean loss. Holds its running sums outside any
 * `tf.tidy`; the gradients passed to `add` are not disposed.
 */
export class GradientAccumulator<K> {
  private readonly sums = new Map<K, tf.Tensor>();
  private count = 0;

  /** Micro-batches added since the last `mean()` / `reset()`. */
  get size(): number {
    return this.count;
  }

  add(gradients: ReadonlyMap<K, tf.Tensor>): void {
    for (const [key, gradient] of gradients) {
      const previous = this.sums.get(key);
      const sum = tf.keep(previous ? tf.add(previous, gradient) : gradient.clone());
      previous?.dispose();
      this.sums.set(key, sum);
    }
    this.count += 1;
  }

  /**
   * The mean over the micro-batches added (a key missing from some micro-batches counts as a zero
   * gradient there). New tensors, owned by the caller; the accumulator is reset.
   */
  mean(): Map<K, tf.Tensor> {
    if (this.count === 0) throw new PeftError('invalid-argument', 'GradientAccumulator.mean() called before any add().', { field: 'count', value: 0, allowed: 'at least one micro-batch' });
    const mean = new Map<K, tf.Tensor>();
    for (const [key, sum] of this.sums) mean.set(key, tf.keep(tf.div(sum, this.count)));
    this.reset();
    return mean;
  }

  /** Drops the running sums. */
  reset(): void {
    for (const sum of this.sums.values()) sum.dispose();
    this.sums.clear();
    this.count = 0;
  }
}
