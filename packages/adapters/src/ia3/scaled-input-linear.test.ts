import { measurePeakMemory, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { scaledInputLinear } from './scaled-input-linear';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('scaledInputLinear', () => {
  const x = tf.randomNormal([3, 5, 8], 0, 1, 'float32', 1);
  const l = tf.randomNormal([8], 1, 0.5, 'float32', 2);
  const w = tf.randomNormal([8, 4], 0, 1, 'float32', 3) as tf.Tensor2D;
  const r = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 4);
  const plain = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.reshape(tf.mul(a, b), [-1, 8]) as tf.Tensor2D, w), [3, 5, 4]), r)) as tf.Scalar;
  const lean = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(scaledInputLinear(a, b, w), r)) as tf.Scalar;

  it('gives the value and the gradients of (x ⊙ l)·W computed with plain ops', () => {
    const [expectedX, expectedL] = tf.grads(plain)([x, l]);
    const [actualX, actualL] = tf.grads(lean)([x, l]);
    expect(Math.abs(plain(x, l).dataSync()[0]! - lean(x, l).dataSync()[0]!)).toBeLessThan(1e-4);
    expect(tf.max(tf.abs(expectedL!)).dataSync()[0]).toBeGreaterThan(0.5);
    expect(tf.max(tf.abs(tf.sub(actualX!, expectedX!))).dataSync()[0]).toBeLessThan(1e-4);
    expect(tf.max(tf.abs(tf.sub(actualL!, expectedL!))).dataSync()[0]).toBeLessThan(1e-4);
  });

  it('keeps less for backward than the plain ops (no copy of x ⊙ l per layer)', () => {
    // Four layers' inputs: what each keeps until backward adds up, as in a model.
    const inputs = [5, 6, 7, 8].map((seed) => tf.randomNormal([16, 64, 128], 0, 1, 'float32', seed));
    const vector = tf.variable(tf.ones([128]));
    const weight = tf.randomNormal([128, 32], 0, 1, 'float32', 6) as tf.Tensor2D;
    const peak = (fn: () => tf.Tensor) =>
      measurePeakMemory(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(fn()) as tf.Scalar, [vector]);
        tf.dispose([value, ...Object.values(grads)]);
      }).peakBytes;
    const plainPeak = peak(() => tf.addN(inputs.map((big) => tf.sum(tf.matMul(tf.reshape(tf.mul(big, vector), [-1, 128]) as tf.Tensor2D, weight)))));
    const leanPeak = peak(() => tf.addN(inputs.map((big) => tf.sum(scaledInputLinear(big, vector, weight)))));
    // Each x ⊙ l is 16·64·128·4 bytes = 512 KiB; the plain ops hold four of them at the start of backward.
    expect(plainPeak - leanPeak).toBeGreaterThan(1024 * 1024);
  });
});
