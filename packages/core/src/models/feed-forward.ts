import { activation, type ActivationName } from '../nn/activations';
import { Dropout } from '../nn/dropout';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import type { LayerContext } from './slots';

export interface FeedForwardOptions {
  hiddenSize: number;
  intermediateSize: number;
  activation: ActivationName;
  /** Dropout after the down projection (HF's hidden/residual dropout). */
  dropout: number;
  initStd: number;
  /** Std of the down projection's init (GPT-2 scales it by 1/√(2·layers)). Default initStd. */
  downInitStd?: number;
}

/**
 * The position-wise feed-forward sublayer (`ffn`): dropout(down(act(up(x)))), the output before
 * the residual add. Children `up` (BERT intermediate.dense / GPT-2 mlp.c_fc), `down`
 * (output.dense / mlp.c_proj) and `dropout`.
 */
export class FeedForward extends Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor> {
  readonly activationName: ActivationName;
  private readonly activate: (x: tf.Tensor) => tf.Tensor;

  constructor(options: FeedForwardOptions) {
    super();
    this.role = 'ffn';
    this.activationName = options.activation;
    this.activate = activation(options.activation);
    this.registerModule('up', new Linear(options.hiddenSize, options.intermediateSize, { role: 'ffn.up', initStd: options.initStd }));
    this.registerModule('down', new Linear(options.intermediateSize, options.hiddenSize, { role: 'ffn.down', initStd: options.downInitStd ?? options.initStd }));
    this.registerModule('dropout', new Dropout(options.dropout));
  }

  forward(hidden: tf.Tensor, _context: LayerContext): tf.Tensor {
    return tf.tidy(() => this.child('dropout').forward(this.child('down').forward(this.activate(this.child('up').forward(hidden)))));
  }
}
