import { AdamW, Linear, Module, SelectedTensor, measurePeakMemory, setGlobalSeed, tf } from '@peftjs/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scatterAdd } from './scatter-add';
import { randomIndices, topKIndices } from './select';
import { SparseDelta } from './sparse-delta';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

class Holder extends Module<[tf.Tensor], tf.Tensor> {
  constructor(readonly first: Linear, readonly second: Linear) {
    super();
    this.registerModule('first', first);
    this.registerModule('second', second);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return this.second.forward(tf.tanh(this.first.forward(x)));
  }
}

function tiny(): Holder {
  setGlobalSeed(7);
  return new Holder(new Linear(3, 4), new Linear(4, 2));
}

function targetsOf(model: Holder) {
  return [
    { path: 'first.weight', parameter: model.first.parameter('weight') },
    { path: 'second.weight', parameter: model.second.parameter('weight') },
  ];
}

const disposables: Array<{ dispose(): void }> = [];
afterEach(() => disposables.splice(0).forEach((d) => d.dispose()));

describe('scatterAdd', () => {
  it('adds the values at the flat indices and its gradient is the gather of dy there', () => {
    const base = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const indices = tf.tensor1d([1, 5], 'int32');
    const values = tf.tensor1d([0.5, -2]);
    expect(Array.from(scatterAdd(base, indices, values).dataSync())).toEqual([1, 2.5, 3, 4, 5, 4]);
    const weights = tf.tensor2d([[1, -1, 2], [3, 0.5, -4]]);
    const gradient = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(scatterAdd(base, indices, v as tf.Tensor1D), weights)))(values);
    expect(Array.from(gradient.dataSync())).toEqual([-1, -4]);
    tf.dispose([base, indices, values, weights, gradient]);
  });
});

describe('SparseDelta', () => {
  it('identity at init; the forward reads W0 + scatter(δ); merge writes exactly that; unmerge restores bit for bit', () => {
    const model = tiny();
    disposables.push(model);
    const w0 = [model.first.parameter('weight').variable.dataSync().slice(), model.second.parameter('weight').variable.dataSync().slice()];
    const delta = new SparseDelta({ model, holderName: 'delta', targets: targetsOf(model), indices: Int32Array.from([13, 2, 7]), method: 'test' });
    expect(delta.entriesPerTarget()).toEqual([2, 1]);
    expect(Array.from(delta.localIndices(1))).toEqual([1]); // 13 − 12 entries of the first weight
    expect(Array.from(model.first.parameter('weight').value.dataSync())).toEqual(Array.from(w0[0]!));
    delta.values.assign(tf.tensor1d([0.25, -1.5, 3]));
    const expectedFirst = Array.from(w0[0]!);
    expectedFirst[2] = Math.fround(expectedFirst[2]! + 0.25);
    expectedFirst[7] = Math.fround(expectedFirst[7]! - 1.5);
    const expectedSecond = Array.from(w0[1]!);
    expectedSecond[1] = Math.fround(expectedSecond[1]! + 3);
    expect(Array.from(model.first.parameter('weight').value.dataSync())).toEqual(expectedFirst);
    expect(Array.from(model.second.parameter('weight').value.dataSync())).toEqual(expectedSecond);
    delta.merge();
    expect(model.first.parameter('weight').isOverridden).toBe(false);
    expect(Array.from(model.first.parameter('weight').variable.dataSync())).toEqual(expectedFirst);
    expect(Array.from(model.second.parameter('weight').variable.dataSync())).toEqual(expectedSecond);
    delta.unmerge();
    expect(Array.from(model.first.parameter('weight').variable.dataSync())).toEqual(Array.from(w0[0]!));
    expect(Array.from(model.second.parameter('weight').variable.dataSync())).toEqual(Array.from(w0[1]!));
    delta.setEnabled(false);
    expect(Array.from(model.first.parameter('weight').value.dataSync())).toEqual(Array.from(w0[0]!));
    delta.remove(model);
  });

  it('the gradient of δ equals the dense gradient of the weights gathered at the indices', () => {
    const model = tiny();
    disposables.push(model);
    const x = tf.tensor2d([[0.5, -1, 2], [1.5, 0.3, -0.7]]);
    const loss = () => tf.sum(tf.square(model.forward(x))) as tf.Scalar;
    const dense = tf.variableGrads(loss, [model.first.parameter('weight').variable, model.second.parameter('weight').variable]);
    const denseFirst = dense.grads[model.first.parameter('weight').variable.name]!.dataSync();
    const denseSecond = dense.grads[model.second.parameter('weight').variable.name]!.dataSync();
    const delta = new SparseDelta({ model, holderName: 'delta', targets: targetsOf(model), indices: Int32Array.from([0, 5, 11, 12, 19]), method: 'test' });
    const sparse = tf.variableGrads(loss, [delta.values.variable]);
    const got = Array.from(sparse.grads[delta.values.variable.name]!.dataSync());
    const expected = [denseFirst[0]!, denseFirst[5]!, denseFirst[11]!, denseSecond[0]!, denseSecond[7]!];
    expect(Math.max(...expected.map(Math.abs))).toBeGreaterThan(0.05);
    got.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    tf.dispose([x, dense.value, sparse.value, ...Object.values(dense.grads), ...Object.values(sparse.grads)]);
    delta.remove(model);
  });

  it('two deltas on the same tensors add up, and merge in turn to W0 + δ1 + δ2', () => {
    const model = tiny();
    disposables.push(model);
    const w0 = model.first.parameter('weight').variable.dataSync().slice();
    const a = new SparseDelta({ model, holderName: 'a', targets: targetsOf(model), indices: Int32Array.from([1, 4]), method: 'test' });
    const b = new SparseDelta({ model, holderName: 'b', targets: targetsOf(model), indices: Int32Array.from([4, 9]), method: 'test' });
    a.values.assign(tf.tensor1d([1, 2]));
    b.values.assign(tf.tensor1d([10, 20]));
    const read = Array.from(model.first.parameter('weight').value.dataSync());
    const expected = Array.from(w0);
    expected[1] = Math.fround(expected[1]! + 1);
    expected[4] = Math.fround(expected[4]! + 12);
    expected[9] = Math.fround(expected[9]! + 20);
    read.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    a.merge();
    b.merge();
    Array.from(model.first.parameter('weight').variable.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    b.unmerge();
    a.unmerge();
    expect(Array.from(model.first.parameter('weight').variable.dataSync())).toEqual(Array.from(w0));
    b.remove(model);
    a.remove(model);
    expect(model.first.parameter('weight').isOverridden).toBe(false);
  });

  it('saves k indices and k values and loads them wherever they fall', () => {
    const model = tiny();
    disposables.push(model);
    const delta = new SparseDelta({ model, holderName: 'delta', targets: targetsOf(model), indices: Int32Array.from([3, 8, 15]), method: 'test' });
    delta.values.assign(tf.tensor1d([1, 2, 3]));
    const state = delta.state();
    expect(state.indices!.dtype).toBe('int32');
    expect(state.indices!.shape).toEqual([3]);
    const other = new SparseDelta({ model, holderName: 'other', targets: targetsOf(model), indices: Int32Array.from([0, 1, 2]), method: 'test' });
    other.load({ indices: tf.tensor1d([15, 3, 8], 'int32'), values: tf.tensor1d([3, 1, 2]) }, 'test');
    expect(Array.from(other.globalIndices())).toEqual([3, 8, 15]);
    expect(Array.from(other.values.value.dataSync())).toEqual([1, 2, 3]);
    expect(() => other.load({ indices: tf.tensor1d([3, 3, 8], 'int32'), values: tf.tensor1d([1, 2, 3]) }, 'test')).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    expect(() => other.load({ indices: tf.tensor1d([3, 8], 'int32'), values: tf.tensor1d([1, 2]) }, 'test')).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch', field: 'indices' }));
    other.remove(model);
    delta.remove(model);
  });

  it("keeps Adam's state at k entries where a masked SelectedTensor keeps the whole tensor (measured)", () => {
    setGlobalSeed(3);
    const model = new Holder(new Linear(64, 256), new Linear(256, 8));
    disposables.push(model);
    const x = tf.randomNormal([16, 64], 0, 1, 'float32', 5);
    disposables.push(x);
    const targets = targetsOf(model);
    const total = 64 * 256 + 256 * 8;
    const k = Math.floor(total * 0.01);
    const indices = randomIndices(total, k, 1);
    const loss = () => tf.sum(tf.square(model.forward(x))) as tf.Scalar;

    // Sparse delta: the optimizer sees one vector of k entries.
    const delta = new SparseDelta({ model, holderName: 'delta', targets, indices, method: 'test' });
    const sparseAdam = new AdamW([delta.values], { learningRate: 1e-3 });
    const sparseStep = () => {
      const { value, grads } = tf.variableGrads(loss, [delta.values.variable]);
      sparseAdam.step(new Map([[delta.values, grads[delta.values.variable.name]!]]));
      tf.dispose([value, ...Object.values(grads)]);
    };
    sparseStep();
    const sparseStateBytes = Object.values(sparseAdam.state().tensors).reduce((n, t) => n + t.size * 4, 0);
    const sparsePeak = measurePeakMemory(sparseStep).peakBytes;
    sparseAdam.dispose();
    delta.remove(model);

    // Masked whole tensors (core's SelectedTensor): gradients and moments of the whole tensors.
    const selections = targets.map((target, t) => {
      const offset = t === 0 ? 0 : 64 * 256;
      const local = Int32Array.from(indices.filter((i) => i >= offset && i < offset + target.parameter.size), (i) => i - offset);
      return new SelectedTensor({ ...target, indices: local });
    });
    const parameters = targets.map((target) => target.parameter);
    const maskedAdam = new AdamW(parameters, { learningRate: 1e-3 });
    const maskedStep = () => {
      const { value, grads } = tf.variableGrads(loss, parameters.map((p) => p.variable));
      const gradients = new Map(parameters.map((p, i) => [p, selections[i]!.maskGradient(grads[p.variable.name]!)] as const));
      maskedAdam.step(gradients);
      selections.forEach((s) => s.restoreFrozenEntries());
      tf.dispose([value, ...Object.values(grads), ...gradients.values()]);
    };
    maskedStep();
    const maskedStateBytes = Object.values(maskedAdam.state().tensors).reduce((n, t) => n + t.size * 4, 0);
    const maskedPeak = measurePeakMemory(maskedStep).peakBytes;
    maskedAdam.dispose();
    selections.forEach((s) => s.restoreAndDispose());

    expect(sparseStateBytes).toBe(2 * k * 4);
    expect(maskedStateBytes).toBe(2 * total * 4);
    // The dense gradients and masked copies are gone; the dense W0 + scatter(δ) outputs remain.
    expect(sparsePeak).toBeLessThan(maskedPeak);
    console.log(`sparse delta vs masked SelectedTensor (k = ${k} of ${total}, cpu): Adam state ${sparseStateBytes} vs ${maskedStateBytes} bytes; peak step ${sparsePeak} vs ${maskedPeak} bytes`);
  });
});

describe('selection helpers', () => {
  it('topKIndices takes the k largest scores across targets, ties to the lower index', () => {
    const scores = [Float32Array.from([0.1, 5, 3, 3]), Float32Array.from([4, 3, 0])];
    expect(Array.from(topKIndices(scores, 3))).toEqual([1, 2, 4]);
    expect(Array.from(topKIndices(scores, 4))).toEqual([1, 2, 3, 4]);
  });

  it('randomIndices draws k distinct indices, the same under the same seed', () => {
    const a = randomIndices(1000, 50, 4);
    expect(new Set(a).size).toBe(50);
    expect(Array.from(randomIndices(1000, 50, 4))).toEqual(Array.from(a));
    expect(Array.from(randomIndices(1000, 50, 5))).not.toEqual(Array.from(a));
  });
});
