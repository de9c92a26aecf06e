import { Dropout } from '../nn/dropout';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';

export interface ClassificationHeadOptions {
  hiddenSize: number;
  numLabels: number;
  /** Dropout before the projection (BERT: hidden dropout; GPT-2's score head: none). */
  dropout: number;
  /** Name of the projection child: `classifier` (BERT) or `score` (GPT-2). */
  projectionName: 'classifier' | 'score';
  /** Whether the projection has a bias (GPT-2's score has none). */
  bias: boolean;
  initStd: number;
}

/**
 * A task head (role `head`): projection(dropout(x)) over the last axis, for pooled [batch, hidden]
 * or per-token [batch, seq, hidden] inputs. HF BertForSequenceClassification /
 * BertForTokenClassification (`classifier`) and GPT2ForSequenceClassification (`score`).
 */
export class ClassificationHead extends Module {
  readonly projectionName: 'classifier' | 'score';

  constructor(options: ClassificationHeadOptions) {
    super();
    this.role = 'head';
    this.projectionName = options.projectionName;
    this.registerModule('dropout', new Dropout(options.dropout));
    this.registerModule(options.projectionName, new Linear(options.hiddenSize, options.numLabels, { role: 'head', bias: options.bias, initStd: options.initStd }));
  }

  forward(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child(this.projectionName).forward(this.child('dropout').forward(hidden)));
  }
}
