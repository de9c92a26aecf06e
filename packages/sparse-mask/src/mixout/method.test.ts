import { peft, tf } from '@peftjs/core';
import { createConformanceBert } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainBriefly } from '../shared/test-support';
import { mixout } from './method';
import { mixoutValue } from './mixout-value';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('mixout', () => {
  it('each entry is u or u + (w − u)/(1 − p), about 1 − p of them kept, with mean w', () => {
    const w = tf.fill([200, 50], 3);
    const u = tf.fill([200, 50], 1);
    const mixed = Array.from(mixoutValue(w, u, 0.7, 5).dataSync());
    const kept = Math.fround(1 + 2 / 0.3);
    expect(new Set(mixed)).toEqual(new Set([1, kept]));
    const share = mixed.filter((v) => v === kept).length / mixed.length;
    expect(share).toBeGreaterThan(0.27);
    expect(share).toBeLessThan(0.33);
    expect(mixed.reduce((a, b) => a + b, 0) / mixed.length).toBeCloseTo(3, 0);
    tf.dispose([w, u]);
  });

  it('its gradient with respect to w matches central differences (fixed mask), O(1)', () => {
    const u = tf.tensor2d([[0.5, -1, 2], [1, 0.25, -0.5]]);
    const projection = tf.tensor2d([[1, -2, 0.5], [3, 1, -1]]);
    const loss = (w: tf.Tensor) => tf.sum(tf.mul(tf.square(mixoutValue(w, u, 0.5, 9)), projection));
    const w0 = [1, 2, -1, 0.5, 1.5, 2.5];
    const analytic = Array.from(tf.grad(loss)(tf.tensor2d(w0, [2, 3])).dataSync());
    const numeric = w0.map((_, i) => {
      const at = (shift: number) => loss(tf.tensor2d(w0.map((v, j) => (j === i ? v + shift : v)), [2, 3])).dataSync()[0]!;
      return (at(1e-2) - at(-1e-2)) / 2e-2;
    });
    expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(1);
    expect(analytic.filter((v) => v === 0).length).toBeGreaterThan(0); // dropped entries get no gradient
    analytic.forEach((v, i) => expect(v).toBeCloseTo(numeric[i]!, 2));
    tf.dispose([u, projection]);
  });

  it('reads the weights as they are in eval mode and mixes them in training mode', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [mixout({ probability: 0.5 })]);
    const parameter = tuned.trainableParameters().find((p) => p.shape.length === 2)!;
    tf.tidy(() => parameter.assign(tf.add(parameter.variable, 1)));
    tuned.model.eval();
    expect(parameter.value).toBe(parameter.variable);
    tuned.model.train();
    const mixed = tf.tidy(() => tf.sub(parameter.value, parameter.variable).dataSync());
    const dropped = Array.from(mixed).filter((v) => Math.abs(v + 1) < 1e-5).length; // u = w − 1
    expect(dropped / mixed.length).toBeGreaterThan(0.3);
    expect(dropped / mixed.length).toBeLessThan(0.7);
    model.dispose();
  });

  it('trains with the trainer and lowers the loss', async () => {
    const { tuned, before, after, release } = await trainBriefly([mixout({ probability: 0.3 })], { learningRate: 1e-2, steps: 60 });
    expect(after).toBeLessThan(before - 0.03);
    expect(tuned.report().trainable).toBe(tuned.trainableParameters().reduce((n, p) => n + p.size, 0));
    release();
  });
});
