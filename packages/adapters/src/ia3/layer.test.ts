import { Linear, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Ia3Linear } from './layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** W = [[1, 2, 0], [−1, 0, 3]] ([in 2, out 3]), b = [0.5, −1, 2]; x = [2, 1]: x·W + b = [1.5, 3, 5]. */
function tinyLinear(): Linear {
  const linear = new Linear(2, 3);
  linear.weight.assign(tf.tensor2d([[1, 2, 0], [-1, 0, 3]]));
  linear.bias!.assign(tf.tensor1d([0.5, -1, 2]));
  return linear;
}

describe('Ia3Linear by hand', () => {
  it('output target: (x·W + b) ⊙ l', () => {
    const layer = new Ia3Linear(tinyLinear());
    layer.addAdapter('default', 'ia3', { feedforward: false, initOnes: true });
    expect(Array.from(layer.forward(tf.tensor2d([[2, 1]])).dataSync())).toEqual([1.5, 3, 5]);
    layer.vectorOf().assign(tf.tensor1d([2, -1, 0.5]));
    expect(Array.from(layer.forward(tf.tensor2d([[2, 1]])).dataSync())).toEqual([3, -3, 2.5]);
    layer.mergeAdapter('default');
    expect(Array.from((layer.base as Linear).weight.value.dataSync()).map((v) => v + 0)).toEqual([2, -2, 0, -2, 0, 1.5]);
    expect(Array.from((layer.base as Linear).bias!.value.dataSync())).toEqual([1, 1, 1]);
    expect(Array.from(layer.forward(tf.tensor2d([[2, 1]])).dataSync())).toEqual([3, -3, 2.5]);
    layer.unmergeAdapter('default');
    expect(Array.from((layer.base as Linear).weight.value.dataSync())).toEqual([1, 2, 0, -1, 0, 3]);
  });

  it('feed-forward target: (x ⊙ l)·W + b, merged into the rows of W with b untouched', () => {
    const layer = new Ia3Linear(tinyLinear());
    layer.addAdapter('default', 'ia3', { feedforward: true, initOnes: true });
    expect(layer.vectorOf().shape).toEqual([2]);
    layer.vectorOf().assign(tf.tensor1d([0.5, 3]));
    // x ⊙ l = [1, 3] → [1 − 3 + 0.5, 2 − 1, 9 + 2] = [−1.5, 1, 11]
    expect(Array.from(layer.forward(tf.tensor2d([[2, 1]])).dataSync())).toEqual([-1.5, 1, 11]);
    layer.mergeAdapter('default');
    expect(Array.from((layer.base as Linear).weight.value.dataSync())).toEqual([0.5, 1, 0, -3, 0, 9]);
    expect(Array.from((layer.base as Linear).bias!.value.dataSync())).toEqual([0.5, -1, 2]);
  });

  it('two adapters multiply, as HF PEFT does', () => {
    const layer = new Ia3Linear(tinyLinear());
    layer.addAdapter('a', 'ia3', { feedforward: false, initOnes: true });
    layer.addAdapter('b', 'ia3', { feedforward: false, initOnes: true });
    layer.vectorOf('a').assign(tf.tensor1d([2, 2, 2]));
    layer.vectorOf('b').assign(tf.tensor1d([3, 1, -1]));
    expect(Array.from(layer.forward(tf.tensor2d([[2, 1]])).dataSync())).toEqual([9, 6, -10]);
  });
});
