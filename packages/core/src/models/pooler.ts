import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';

/** HF BertPooler (role `pooler`): tanh(dense(hidden[:, 0])), the first position's state. Child `dense`. */
export class Pooler extends Module {
  constructor(hiddenSize: number, initStd: number) {
    super();
    this.role = 'pooler';
    this.registerModule('dense', new Linear(hiddenSize, hiddenSize, { role: 'pooler', initStd }));
  }

  /** hidden [batch, seq, hidden] -> [batch, hidden]. */
  forward(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [batch, , size] = hidden.shape as [number, number, number];
      const first = hidden.slice([0, 0, 0], [batch, 1, size]).reshape([batch, size]);
      return tf.tanh(this.child('dense').forward(first));
    });
  }
}
