import { Module } from './module';
import { Parameter } from './parameter';
import type { ModuleRole } from './roles';
import { tf } from './tf';
import { globalSeeds } from '../util/random';

export interface EmbeddingOptions {
  role?: ModuleRole;
  initStd?: number;
  trainable?: boolean;
}

/** A lookup table [count, dim]; forward gathers rows by int32 ids. */
export class Embedding extends Module {
  readonly count: number;
  readonly dim: number;

  constructor(count: number, dim: number, options: EmbeddingOptions = {}) {
    super();
    this.count = count;
    this.dim = dim;
    this.role = options.role;
    const table = tf.truncatedNormal([count, dim], 0, options.initStd ?? 0.02, 'float32', globalSeeds().nextSeed());
    this.registerParameter('weight', new Parameter(table, { kind: 'weight', trainable: options.trainable ?? true }));
  }

  get weight(): Parameter {
    return this.parameter('weight');
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.gather(this.weight.value, ids.dtype === 'int32' ? ids : ids.toInt()));
  }
}
