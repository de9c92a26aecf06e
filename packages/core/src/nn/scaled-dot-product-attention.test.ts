import { beforeAll, describe, expect, it } from 'vitest';
import { onBackend, prepareCpuAndWasm } from '../backend/test-support';
import { MemoryMeter } from '../meter/memory-meter';
import { bytesHeldForBackward, expectSameValueAndGradients, randomTensor } from './op-test-support';
import { scaledDotProductAttention } from './scaled-dot-product-attention';
import { tf } from './tf';

beforeAll(prepareCpuAndWasm);

/** The formulation multi-head attention used before: matMul, div, add mask, softmax, tf.dropout, matMul. */
function plainAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | undefined, rate: number, seed: number): tf.Tensor {
  let scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(q.shape[3]!));
  if (mask) scores = tf.add(scores, mask);
  let p = tf.softmax(scores);
  if (rate > 0) p = tf.dropout(p, rate, undefined, seed);
  return tf.matMul(p, v);
}

describe.each(['cpu', 'wasm'] as const)('scaledDotProductAttention on %s', (backend) => {
  it('gives the plain output exactly and its q, k, v gradients: padding mask, dropout, 3 prefix key/value rows', () =>
    onBackend(backend, () => {
      // 2 examples, 2 heads, 4 queries, 3 prefix + 4 keys, head dim 8; example 1 pads its last key.
      const inputs = [randomTensor([2, 2, 4, 8], 1, 2), randomTensor([2, 2, 7, 8], 2, 2), randomTensor([2, 2, 7, 8], 3)];
      const mask = tf.tensor4d([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1e9], [2, 1, 1, 7]);
      expectSameValueAndGradients(
        (q, k, v) => scaledDotProductAttention(q!, k!, v!, { mask, dropoutRate: 0.2, dropoutSeed: 5 }),
        (q, k, v) => plainAttention(q!, k!, v!, mask, 0.2, 5),
        inputs,
      );
      // Without dropout or mask too.
      expectSameValueAndGradients((q, k, v) => scaledDotProductAttention(q!, k!, v!), (q, k, v) => plainAttention(q!, k!, v!, undefined, 0, 0), inputs);
      tf.dispose([...inputs, mask]);
    }));

  it('keeps q, k, v (and the mask) only; the plain tape keeps several [B, H, Tq, Tk] tensors', () =>
    onBackend(backend, () => {
      MemoryMeter.forBackend();
      const [b, h, t, d] = [2, 4, 64, 8];
      const x = randomTensor([b, h, t, d], 4);
      const mask = tf.zeros([b, 1, 1, t]);
      // q = h, k = −h, v = h again in a third buffer (Neg keeps nothing).
      const ours = bytesHeldForBackward((h) => scaledDotProductAttention(h, tf.neg(h), tf.neg(tf.neg(h)), { mask, dropoutRate: 0.1, dropoutSeed: 1 }), x);
      const plain = bytesHeldForBackward((h) => plainAttention(h, tf.neg(h), tf.neg(tf.neg(h)), mask, 0.1, 1), x);
      expect(ours).toBe(3 * x.size * 4);
      expect(plain).toBeGreaterThanOrEqual(3 * b * h * t * t * 4);
      tf.dispose([x, mask]);
    }));
});
