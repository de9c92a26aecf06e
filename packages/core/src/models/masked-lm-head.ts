import { activation, type ActivationName } from '../nn/activations';
import { LayerNorm } from '../nn/layer-norm';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { tiedProjection } from './tied-projection';

export interface MaskedLmHeadOptions {
  hiddenSize: number;
  vocabSize: number;
  activation: ActivationName;
  layerNormEps: number;
  initStd: number;
}

/**
 * HF BertOnlyMLMHead (role `head`): norm(act(transform(h))) · Eᵀ + bias, where E is the word
 * embedding table (tied, passed in on each call so a loaded or replaced table is used). Children
 * `transform` (cls.predictions.transform.dense), `norm` (...transform.LayerNorm); parameter
 * `bias` (cls.predictions.bias).
 */
export class MaskedLmHead extends Module<[hidden: tf.Tensor, wordEmbeddings: tf.Tensor], tf.Tensor> {
  private readonly activate: (x: tf.Tensor) => tf.Tensor;

  constructor(options: MaskedLmHeadOptions) {
    super();
    this.role = 'head';
    this.activate = activation(options.activation);
    this.registerModule('transform', new Linear(options.hiddenSize, options.hiddenSize, { role: 'head', initStd: options.initStd }));
    this.registerModule('norm', new LayerNorm(options.hiddenSize, { eps: options.layerNormEps, role: 'head' }));
    this.registerParameter('bias', new Parameter(tf.zeros([options.vocabSize]), { kind: 'bias' }));
  }

  /** hidden [batch, seq, hidden], wordEmbeddings [vocab, hidden] -> logits [batch, seq, vocab]. */
  forward(hidden: tf.Tensor, wordEmbeddings: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const transformed = this.child('norm').forward(this.activate(this.child('transform').forward(hidden)));
      return tf.add(tiedProjection(transformed, wordEmbeddings), this.parameter('bias').value);
    });
  }
}
