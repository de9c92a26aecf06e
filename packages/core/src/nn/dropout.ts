import { dropoutOp } from './dropout-op';
import { Module } from './module';
import type { tf } from './tf';
import { globalSeeds } from '../util/random';

/**
 * Inverted dropout, active only in training mode; seeds come from the global seed stream. The same
 * values as tf.dropout, keeping a boolean mask for backward (see `dropoutOp`).
 */
export class Dropout extends Module {
  readonly rate: number;

  constructor(rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`Dropout rate must be in [0, 1); got ${rate}`);
    this.rate = rate;
  }

  forward(x: tf.Tensor): tf.Tensor {
    const seed = this.nextMaskSeed();
    return seed === undefined ? x : dropoutOp(x, this.rate, seed);
  }

  /**
   * The seed of the next mask when the dropout is active (training, rate > 0), drawn from the
   * global stream exactly as `forward` draws it; undefined when inactive. For ops that apply this
   * dropout inside themselves (attention draws its mask again from the seed in backward).
   */
  nextMaskSeed(): number | undefined {
    if (!this.training || this.rate === 0) return undefined;
    return globalSeeds().nextSeed();
  }
}
