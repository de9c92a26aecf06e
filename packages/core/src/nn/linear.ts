import { Module } from './module';
import { Parameter } from './parameter';
import type { ModuleRole } from './roles';
import { tf } from './tf';
import { linearOp } from './linear-op';
import { globalSeeds } from '../util/random';

export interface LinearOptions {
  bias?: boolean;
  role?: ModuleRole;
  /** Std of the normal init (BERT uses 0.02). Default: Glorot-uniform-like 1/sqrt(in). */
  initStd?: number;
  trainable?: boolean;
}

/**
 * y = x·W + b, with W stored as [in, out] (tfjs' matMul layout; HF checkpoints store [out, in]
 * and the loaders transpose). Any leading dims of x are flattened for one rank-2 matmul, which is
 * the fast path on the wasm backend.
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.role = options.role;
    const trainable = options.trainable ?? true;
    const seed = globalSeeds().nextSeed();
    const weight =
      options.initStd !== undefined
        ? tf.truncatedNormal([inFeatures, outFeatures], 0, options.initStd, 'float32', seed)
        : tf.randomUniform([inFeatures, outFeatures], -1 / Math.sqrt(inFeatures), 1 / Math.sqrt(inFeatures), 'float32', seed);
    this.registerParameter('weight', new Parameter(weight, { kind: 'weight', trainable }));
    if (options.bias ?? true) {
      this.registerParameter('bias', new Parameter(tf.zeros([outFeatures]), { kind: 'bias', trainable }));
    }
  }

  get weight(): Parameter {
    return this.parameter('weight');
  }

  get bias(): Parameter | undefined {
    return this.maybeParameter('bias');
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => linearForward(x, this.weight.value, this.bias?.value));
  }
}

/**
 * x·W (+ b) over the last axis of x, flattening leading dims into one rank-2 matmul; one
 * custom-gradient op that keeps x only when W's gradient may be asked for (see `linearOp`).
 */
export function linearForward(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return linearOp(x, weight, bias);
}
