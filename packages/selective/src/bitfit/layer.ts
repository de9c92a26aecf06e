import { Module, Parameter, tf, type Linear } from '@peftjs/core';

/**
 * A bias-less Linear with a zero bias added beside it: y = x·W + b, b = 0 at init, so the output
 * is unchanged until b trains. Lets BitFit run on models built without biases (`addZeroBiases`).
 */
export class ZeroBiasLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(base: Linear) {
    super();
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.registerModule('base', base);
    this.registerParameter('bias', new Parameter(tf.zeros([base.outFeatures]), { kind: 'bias', trainable: false }));
  }

  get base(): Linear {
    return this.child<Linear>('base');
  }

  get bias(): Parameter {
    return this.parameter('bias');
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(this.base.forward(x), this.bias.value));
  }
}
