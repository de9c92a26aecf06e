import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, randomTensor, values } from '../models/test-support';
import { tf } from '../nn/tf';
import { GradientAccumulator } from './gradient-accumulator';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('GradientAccumulator', () => {
  it('two micro-batches of B give the gradient of one batch of 2B for a mean loss', () => {
    const weight = tf.variable(randomTensor([3, 2], 1));
    const bias = tf.variable(randomTensor([2], 2));
    const inputs = randomTensor([8, 3], 3);
    const targets = randomTensor([8, 2], 4);
    const meanLoss = (x: tf.Tensor, y: tf.Tensor) => () => tf.mean(tf.squaredDifference(tf.add(tf.matMul(x, weight), bias), y)) as tf.Scalar;
    const gradientsOf = (x: tf.Tensor, y: tf.Tensor) => {
      const { value, grads } = tf.variableGrads(meanLoss(x, y), [weight, bias]);
      value.dispose();
      return new Map(Object.entries(grads));
    };

    const full = gradientsOf(inputs, targets);
    const accumulator = new GradientAccumulator<string>();
    for (const half of [0, 4]) {
      const x = inputs.slice([half, 0], [4, 3]);
      const y = targets.slice([half, 0], [4, 2]);
      const micro = gradientsOf(x, y);
      accumulator.add(micro);
      for (const t of [...micro.values(), x, y]) t.dispose();
    }
    expect(accumulator.size).toBe(2);
    const accumulated = accumulator.mean();
    expect(accumulator.size).toBe(0);
    for (const name of [weight.name, bias.name]) {
      expectClose(values(accumulated.get(name)!), values(full.get(name)!), 1e-6);
      // The sum would be twice the mean: make sure it really is averaged.
      expect(values(accumulated.get(name)!)).not.toEqual(values(tf.mul(full.get(name)!, 2)));
    }
    for (const g of [...full.values(), ...accumulated.values()]) g.dispose();
    for (const t of [weight, bias, inputs, targets]) t.dispose();
  });

  it('holds no tensors after mean() or reset()', () => {
    const before = tf.memory().numTensors;
    const accumulator = new GradientAccumulator<string>();
    const g = tf.ones([2]);
    accumulator.add(new Map([['a', g]]));
    accumulator.add(new Map([['a', g]]));
    accumulator.reset();
    accumulator.add(new Map([['a', g]]));
    const mean = accumulator.mean();
    expect(values(mean.get('a')!)).toEqual([1, 1]);
    mean.get('a')!.dispose();
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => accumulator.mean()).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
