import { layerNormOp } from './layer-norm-op';
import { Module } from './module';
import { Parameter } from './parameter';
import type { ModuleRole } from './roles';
import { tf } from './tf';

export interface LayerNormOptions {
  eps?: number;
  role?: ModuleRole;
  trainable?: boolean;
}

/** Layer normalisation over the last axis: gamma·(x−μ)/√(σ²+ε) + beta, keeping only x̂ and 1/√(σ²+ε) for backward. */
export class LayerNorm extends Module {
  readonly dim: number;
  readonly eps: number;

  constructor(dim: number, options: LayerNormOptions = {}) {
    super();
    this.dim = dim;
    this.eps = options.eps ?? 1e-12;
    this.role = options.role;
    const trainable = options.trainable ?? true;
    this.registerParameter('gamma', new Parameter(tf.ones([dim]), { kind: 'gamma', trainable }));
    this.registerParameter('beta', new Parameter(tf.zeros([dim]), { kind: 'beta', trainable }));
  }

  get gamma(): Parameter {
    return this.parameter('gamma');
  }

  get beta(): Parameter {
    return this.parameter('beta');
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => layerNormOp(x, this.gamma.value, this.beta.value, this.eps));
  }
}
