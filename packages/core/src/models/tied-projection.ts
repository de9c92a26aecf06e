import { tf } from '../nn/tf';

/** x [..., hidden] · tableᵀ [hidden, vocab] as one rank-2 matmul. */
export function tiedProjection(x: tf.Tensor, table: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const size = x.shape[x.shape.length - 1]!;
    const logits = tf.matMul(x.reshape([-1, size]) as tf.Tensor2D, table as tf.Tensor2D, false, true);
    return logits.reshape([...x.shape.slice(0, -1), table.shape[0]!]);
  });
}
