import { Module } from './module';
import { tf } from './tf';
import { globalSeeds } from '../util/random';

/** Inverted dropout, active only in training mode; seeds come from the global seed stream. */
export class Dropout extends Module {
  readonly rate: number;

  constructor(rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`Dropout rate must be in [0, 1); got ${rate}`);
    this.rate = rate;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.rate === 0) return x;
    return tf.dropout(x, this.rate, undefined, globalSeeds().nextSeed());
  }
}
