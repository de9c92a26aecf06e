import { Module, Parameter, globalSeeds, tf, type LayerContext, type Sublayer } from '@peftjs/core';
import { squarestFactor } from './config';
import { kroneckerProductRows } from './layer';

/**
 * KronA^B_res (Edalati et al., "KronA: Parameter Efficient Tuning with Kronecker Adapter", 2022,
 * §3; "Scaling Down to Scale Up" §9.3): a Kronecker adapter in parallel to a block's FFN, with a
 * learnable residual connection around the adapter:
 *
 *   out = FFN(x) + s·x·(A ⊗ B) + λ·x
 *
 * with A [a1, a2], B [b1, b2], a1·b1 = a2·b2 = hidden, computed by the Kronecker–vector product trick
 * (never forming A ⊗ B). B and λ start at 0, so the model equals the base at init. It runs beside a
 * nonlinear block, so it cannot fold into the weights: the survey's "+ linear layer" at inference.
 */
export class KronaParallelFfn extends Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor> {
  readonly hiddenSize: number;
  readonly scale: number;
  enabled = true;

  constructor(inner: Sublayer, hiddenSize: number, options: { factor?: number; scale?: number } = {}) {
    super();
    this.role = inner.role;
    this.hiddenSize = hiddenSize;
    this.scale = options.scale ?? 1;
    this.registerModule('inner', inner);
    const a1 = options.factor ?? squarestFactor(hiddenSize);
    const b1 = hiddenSize / a1;
    const bound = 1 / Math.sqrt(a1);
    this.registerParameter('kronaA', new Parameter(tf.randomUniform([a1, a1], -bound, bound, 'float32', globalSeeds().nextSeed()), { kind: 'krona_A' }));
    this.registerParameter('kronaB', new Parameter(tf.zeros([b1, b1]), { kind: 'krona_B' }));
    this.registerParameter('residualScale', new Parameter(tf.zeros([1]), { kind: 'scale' }));
  }

  get inner(): Sublayer {
    return this.child<Sublayer>('inner');
  }

  get base(): Sublayer {
    return this.inner;
  }

  forward(hidden: tf.Tensor, context: LayerContext): tf.Tensor {
    if (!this.enabled) return this.inner.forward(hidden, context);
    return tf.tidy(() => {
      const y = this.inner.forward(hidden, context);
      const rows = hidden.reshape([-1, this.hiddenSize]) as tf.Tensor2D;
      const kron = kroneckerProductRows(rows, this.parameter('kronaA').value as tf.Tensor2D, this.parameter('kronaB').value as tf.Tensor2D);
      const adapter = tf.add(tf.mul(kron, this.scale), tf.mul(rows, this.parameter('residualScale').value));
      return tf.add(y, adapter.reshape(y.shape));
    });
  }
}
