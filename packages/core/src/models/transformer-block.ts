import { LayerNorm } from '../nn/layer-norm';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import type { LayerContext, Sublayer } from './slots';

export interface TransformerBlockOptions {
  hiddenSize: number;
  layerNormEps: number;
  /** Pre-LN (GPT-2) instead of post-LN (BERT). */
  preLayerNorm: boolean;
  attention: Sublayer;
  ffn: Sublayer;
}

/**
 * One transformer block (role `block`) with children `attention`, `attentionNorm`, `ffn`,
 * `ffnNorm`. The sublayers return their output before the residual add, so wrapping them inserts
 * sequential or parallel adapters:
 * - post-LN (BERT):  h = LN1(x + attention(x));   out = LN2(h + ffn(h))
 * - pre-LN (GPT-2):  h = x + attention(LN1(x));   out = h + ffn(LN2(h))
 */
export class TransformerBlock extends Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor> {
  readonly preLayerNorm: boolean;

  constructor(options: TransformerBlockOptions) {
    super();
    this.role = 'block';
    this.preLayerNorm = options.preLayerNorm;
    this.registerModule('attention', options.attention);
    this.registerModule('attentionNorm', new LayerNorm(options.hiddenSize, { eps: options.layerNormEps, role: 'norm.attention' }));
    this.registerModule('ffn', options.ffn);
    this.registerModule('ffnNorm', new LayerNorm(options.hiddenSize, { eps: options.layerNormEps, role: 'norm.ffn' }));
  }

  get attention(): Sublayer {
    return this.child<Sublayer>('attention');
  }

  get ffn(): Sublayer {
    return this.child<Sublayer>('ffn');
  }

  forward(hidden: tf.Tensor, context: LayerContext): tf.Tensor {
    return tf.tidy(() => {
      const attentionNorm = this.child('attentionNorm');
      const ffnNorm = this.child('ffnNorm');
      if (this.preLayerNorm) {
        const afterAttention = tf.add(hidden, this.attention.forward(attentionNorm.forward(hidden), context));
        return tf.add(afterAttention, this.ffn.forward(ffnNorm.forward(afterAttention), context));
      }
      const afterAttention = attentionNorm.forward(tf.add(hidden, this.attention.forward(hidden, context)));
      return ffnNorm.forward(tf.add(afterAttention, this.ffn.forward(afterAttention, context)));
    });
  }
}
