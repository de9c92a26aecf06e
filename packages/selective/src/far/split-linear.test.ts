import { Linear, setGlobalSeed, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { topUnits, unitChange, unitsFor } from './select-units';
import { SplitLinear } from './split-linear';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function linear(): Linear {
  setGlobalSeed(11);
  return new Linear(5, 6, { initStd: 0.5 });
}

/** The reference: a plain x·W + b where W's columns `units` (and b's entries) are the trained slice. */
function reference(x: tf.Tensor2D, weight: number[][], bias: number[], units: number[], trainedWeight: tf.Tensor2D, trainedBias: tf.Tensor1D): tf.Tensor {
  const onehot = tf.tensor2d(units.map((unit) => Array.from({ length: bias.length }, (_, j) => (j === unit ? 1 : 0))));
  const keep = tf.tensor1d(bias.map((_, j) => (units.includes(j) ? 0 : 1)));
  const fullWeight = tf.add(tf.mul(tf.tensor2d(weight), keep), tf.matMul(trainedWeight, onehot));
  const fullBias = tf.add(tf.mul(tf.tensor1d(bias), keep), tf.matMul(trainedBias.reshape([1, -1]), onehot).reshape([-1]));
  return tf.add(tf.matMul(x, fullWeight), fullBias);
}

describe('SplitLinear', () => {
  it('equals the base linear exactly at init, whatever the units', () => {
    const base = linear();
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const expected = Array.from(base.forward(x).dataSync());
    const split = new SplitLinear(base, [4, 1]);
    expect(split.units).toEqual([1, 4]);
    expect(Array.from(split.forward(x).dataSync())).toEqual(expected);
    split.selectUnits([0, 5]);
    expect(Array.from(split.forward(x).dataSync())).toEqual(expected);
    split.dispose();
  });

  it('computes the trained slice in place of its columns, with the gradients of the plain reconfigured linear', () => {
    const base = linear();
    const units = [0, 3, 4];
    const split = new SplitLinear(base, units);
    split.trainedWeight.assign(tf.randomNormal([5, 3], 0, 1, 'float32', 2));
    split.trainedBias!.assign(tf.randomNormal([3], 0, 1, 'float32', 3));
    const weight = base.weight.value.arraySync() as number[][];
    const bias = Array.from(base.bias!.value.dataSync());
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 4) as tf.Tensor2D;
    const probe = tf.randomNormal([4, 6], 0, 1, 'float32', 5);
    const loss = (input: tf.Tensor) => tf.sum(tf.mul(tf.square(split.forward(input)), probe)) as tf.Scalar;
    const theirs = (input: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.square(reference(input as tf.Tensor2D, weight, bias, units, w as tf.Tensor2D, b as tf.Tensor1D)), probe));
    const w = split.trainedWeight.value.clone();
    const b = split.trainedBias!.value.clone();
    const rounded = (t: tf.Tensor) => Array.from(t.dataSync()).map((v) => Number(v.toFixed(5)));
    expect(rounded(split.forward(x))).toEqual(rounded(reference(x, weight, bias, units, w as tf.Tensor2D, b as tf.Tensor1D)));
    // The custom gradient against autodiff of the plain reconfigured linear.
    const xGrad = tf.grad((input: tf.Tensor) => theirs(input, w, b))(x);
    const dx = tf.grad(loss)(x);
    const { grads } = tf.variableGrads(() => loss(x), [split.trainedWeight.variable, split.trainedBias!.variable]);
    const [dw, db] = [grads[split.trainedWeight.variable.name], grads[split.trainedBias!.variable.name]];
    const [rw, rb] = tf.grads((wi: tf.Tensor, bi: tf.Tensor) => theirs(x, wi, bi))([w, b]);
    // Every compared gradient is O(1), far above the 5e-5 of toBeCloseTo(·, 4).
    const close = (a: tf.Tensor, r: tf.Tensor) => {
      expect(Math.max(...Array.from(r.dataSync(), Math.abs))).toBeGreaterThan(0.5);
      Array.from(a.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(r.dataSync()[i]!, 4));
    };
    close(dx!, xGrad);
    close(dw!, rw!);
    close(db!, rb!);
    // And one entry of dW_t by finite differences.
    const at = (delta: number) => {
      const shifted = w.arraySync() as number[][];
      shifted[2]![1]! += delta;
      split.trainedWeight.assign(tf.tensor2d(shifted));
      return tf.tidy(() => tf.sum(tf.mul(tf.square(split.forward(x)), probe)).dataSync()[0]!);
    };
    const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
    expect(Math.abs(numeric)).toBeGreaterThan(0.5);
    expect((dw!.arraySync() as number[][])[2]![1]!).toBeCloseTo(numeric, 3);
    split.dispose();
  });

  it('merges the slice into the base weight and unmerges to the original bit for bit', () => {
    const base = linear();
    const original = Array.from(base.weight.value.dataSync());
    const split = new SplitLinear(base, [2]);
    split.trainedWeight.assign(tf.fill([5, 1], 7));
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 6);
    const before = Array.from(split.forward(x).dataSync());
    split.merge();
    const merged = base.weight.value.arraySync() as number[][];
    merged.forEach((row, i) => row.forEach((value, j) => expect(value).toBe(j === 2 ? 7 : original[i * 6 + j])));
    Array.from(split.forward(x).dataSync()).forEach((value, i) => expect(value).toBeCloseTo(before[i]!, 5));
    split.unmerge();
    expect(Array.from(base.weight.value.dataSync())).toEqual(original);
    split.dispose();
  });

  it('refuses units out of range or repeated', () => {
    expect(() => new SplitLinear(linear(), [6])).toThrow(/distinct integers in \[0, 6\)/);
    expect(() => new SplitLinear(linear(), [1, 1])).toThrow(/distinct/);
  });
});

describe('unit selection', () => {
  it('scores each output unit by the L1 change of its column and bias, and keeps the top k', () => {
    const original = { weight: tf.tensor2d([[1, 2, 3], [4, 5, 6]]), bias: tf.tensor1d([0, 0, 0]) };
    const primed = { weight: tf.tensor2d([[1.5, 2, 2], [4, 5, 8]]), bias: tf.tensor1d([0, 0.25, -1]) };
    // Column changes: |0.5|+0 = 0.5; 0+0+|0.25| = 0.25; |−1|+|2|+|−1| = 4.
    expect(Array.from(unitChange(original, primed))).toEqual([0.5, 0.25, 4]);
    expect(topUnits([0.5, 0.25, 4], 2)).toEqual([0, 2]);
    expect(topUnits([1, 1, 1], 2)).toEqual([0, 1]);
    expect(unitsFor(3072, 0.1)).toBe(307);
    expect(unitsFor(8, 0.01)).toBe(1);
  });
});
