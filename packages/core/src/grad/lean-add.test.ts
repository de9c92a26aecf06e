import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { measurePeakMemory } from '../meter/memory-meter';
import { tf } from '../nn/tf';
import { leanAdd } from './lean-add';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('leanAdd', () => {
  it('equals tf.add in value and in the gradients of both inputs', () => {
    const a = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const b = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const w = tf.randomNormal([3, 4], 0, 1, 'float32', 3);
    expect(Array.from(leanAdd(a, b).dataSync())).toEqual(Array.from(tf.add(a, b).dataSync()));
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.square(leanAdd(x, y)), w)))([a, b]);
    const reference = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.square(tf.add(x, y)), w)))([a, b]);
    for (let i = 0; i < 2; i++) expect(Array.from(ours[i]!.dataSync())).toEqual(Array.from(reference[i]!.dataSync()));
    tf.dispose([a, b, w, ...ours, ...reference]);
  });

  it('keeps its inputs off the tape: a gradient through it peaks lower than through tf.add', () => {
    const x = tf.randomNormal([256, 64], 0, 1, 'float32', 4);
    // relu(x·2) and exp(x) are intermediates that only the add would keep alive until backward.
    const peak = (add: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      measurePeakMemory(() => tf.dispose(tf.grads((input: tf.Tensor) => tf.sum(tf.sin(add(tf.mul(input, 2), tf.sin(input)))))([x]))).peakBytes;
    const bytes = 256 * 64 * 4;
    expect(peak(tf.add) - peak(leanAdd)).toBeGreaterThanOrEqual(bytes);
    tf.dispose(x);
  });

  it('adds a bias over the trailing axes, its gradient summed over the leading ones', () => {
    const a = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 5);
    const bias = tf.randomNormal([4], 0, 1, 'float32', 6);
    const w = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 7);
    const loss = (add: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.square(add(x, y)), w));
    const ours = tf.grads(loss(leanAdd))([a, bias]);
    const reference = tf.grads(loss(tf.add))([a, bias]);
    for (let i = 0; i < 2; i++) {
      const [o, r] = [ours[i]!.dataSync(), reference[i]!.dataSync()];
      expect(ours[i]!.shape).toEqual(reference[i]!.shape);
      o.forEach((value, j) => expect(value).toBeCloseTo(r[j]!, 5));
    }
    tf.dispose([a, bias, w, ...ours, ...reference]);
  });

  it('refuses shapes that are not a suffix (no general broadcasting)', () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([2]);
    expect(() => leanAdd(a, b)).toThrow(PeftError);
    tf.dispose([a, b]);
  });
});
