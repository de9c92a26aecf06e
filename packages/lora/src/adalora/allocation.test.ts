import { Linear, peft, setGlobalSeed, tf, type AppliedMethod, type Parameter } from '@peftjs/core';
import { createConformanceBert } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdaLoraLinear } from './layer';
import { adalora } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const PATHS = ['encoder.layers.0.attention.query', 'encoder.layers.1.attention.query'];

/**
 * Two query matrices of initR 3 whose singular values are set by hand. With gradients 1 on E and 0
 * on A and B, I(A) = I(B) = 0 and I(E) = |E|, so every triplet's score is s(λ) = Ī·Ū ∝ λ².
 */
function setup(tinit = 0) {
  const model = createConformanceBert();
  const tuned = peft(model, [adalora({ initR: 3, targetR: 1, tinit, tfinal: 5, deltaT: 1, totalSteps: 10, beta1: 0.5, beta2: 0.5, targets: { roles: ['attention.query'] } })]);
  const layers = PATHS.map((path) => model.getModule<AdaLoraLinear>(path));
  layers[0]!.loraE.assign(tf.tensor1d([3, 1, 5]));
  layers[1]!.loraE.assign(tf.tensor1d([2, 6, 4]));
  const method = tuned.appliedMethods()[0]!;
  const gradients = new Map<Parameter, tf.Tensor>(
    layers.flatMap((layer) => [
      [layer.loraA, tf.zerosLike(layer.loraA.value)],
      [layer.loraE, tf.onesLike(layer.loraE.value)],
      [layer.loraB, tf.zerosLike(layer.loraB.value)],
    ]),
  );
  const step = (info: { step: number }) => method.afterStep!({ ...info, totalSteps: 10, gradients });
  return { model, method, layers, gradients, step };
}

const values = (tensor: tf.Tensor) => Array.from(tensor.dataSync());

describe('AdaLoRA importance and pruning through the training hooks', () => {
  it('smooths importance after each optimizer step (afterStep, as HF) over two steps (hand numbers)', () => {
    // tinit 4: no pruning in steps 1 and 2, so E stays as set.
    const { model, method, layers, gradients, step } = setup(4);
    // Importance is not computed before the optimizer step any more.
    expect(method.transformGradients).toBeUndefined();
    step({ step: 1 });
    step({ step: 2 });
    // I = |E·1| = [3, 1, 5]. Step 1: Ī = 0.5·I, Ū = 0.5·|I − 0.5·I| = 0.25·I.
    // Step 2: Ī = 0.5·0.5·I + 0.5·I = 0.75·I, Ū = 0.5·0.25·I + 0.5·|I − 0.75·I| = 0.25·I.
    const state = layers[0]!.importanceState('q');
    values(state['q.importance.E.sensitivity']!).forEach((value, i) => expect(value).toBeCloseTo(0.75 * [3, 1, 5][i]!, 6));
    values(state['q.importance.E.uncertainty']!).forEach((value, i) => expect(value).toBeCloseTo(0.25 * [3, 1, 5][i]!, 6));
    // Triplet score: s(λ) = 0.1875·λ² plus zero means for A and B.
    Array.from(layers[1]!.tripletScores()).forEach((value, i) => expect(value).toBeCloseTo(0.1875 * [2, 6, 4][i]! ** 2, 5));
    tf.dispose([...gradients.values()]);
    model.dispose();
  });

  it('keeps exactly the scheduled number of ranks, removing the lowest scores across all matrices', () => {
    const { model, layers, gradients, step } = setup();
    // Step 1 of 10 (tinit 0, tfinal 5): importance from E (Ī = 0.5·|E|, Ū = 0.25·|E|), then
    // 1 − 1/5 = 0.8 → ⌊(6 − 2)·0.512 + 2⌋ = 4 kept; λ = 1 and 2 go.
    step({ step: 1 });
    expect(values(layers[0]!.loraE.value)).toEqual([3, 0, 5]);
    expect(values(layers[1]!.loraE.value)).toEqual([0, 6, 4]);
    // Step 2: importance again from the pruned E (scores [1.6875, 0.0625, 4.6875] and [0.25, 6.75, 3]);
    // 1 − 2/5 = 0.6 → ⌊4·0.216 + 2⌋ = 2 kept: the two largest over both matrices, 6 and 5.
    step({ step: 2 });
    expect(layers[0]!.rankMask).toEqual([false, false, true]);
    expect(layers[1]!.rankMask).toEqual([false, true, false]);
    expect(values(layers[0]!.loraE.value)).toEqual([0, 0, 5]);
    tf.dispose([...gradients.values()]);
    model.dispose();
  });

  it('fixes the target allocation at totalSteps − tfinal, holds it, and resumes it from state()', () => {
    const { model, method, layers, gradients, step } = setup();
    // Step 4: importance (Ī = 0.5·|E|) and a prune to ⌊4·0.008 + 2⌋ = 2; step 5 = totalSteps − tfinal
    // fixes the target allocation from the same scores (HF computes no importance at that step).
    step({ step: 4 });
    step({ step: 5 });
    // Target budget 1 × 2 matrices: λ = 6 and 5 stay.
    expect(layers.map((layer) => layer.rankMask)).toEqual([[false, false, true], [false, true, false]]);
    // An optimizer step would move pruned values; the fixed mask zeroes them again, and importance is frozen.
    layers[0]!.loraE.assign(tf.tensor1d([7, 7, 7]));
    step({ step: 6 });
    expect(values(layers[0]!.loraE.value)).toEqual([0, 0, 7]);
    values(layers[0]!.importanceState('q')['q.importance.E.sensitivity']!).forEach((value, i) => expect(value).toBeCloseTo(0.5 * [3, 1, 5][i]!, 6));

    const saved = method.state();
    const fresh = createConformanceBert();
    const resumed: AppliedMethod = peft(fresh, [adalora({ initR: 3, targetR: 1, tinit: 0, tfinal: 5, deltaT: 1, totalSteps: 10, beta1: 0.5, beta2: 0.5, targets: { roles: ['attention.query'] } })]).appliedMethods()[0]!;
    resumed.load!(saved);
    const freshLayers = PATHS.map((path) => fresh.getModule<AdaLoraLinear>(path));
    expect(freshLayers.map((layer) => layer.rankMask)).toEqual([[false, false, true], [false, true, false]]);
    expect(Array.from(freshLayers[1]!.tripletScores())).toEqual(Array.from(layers[1]!.tripletScores()));
    freshLayers[1]!.loraE.assign(tf.tensor1d([1, 1, 1]));
    resumed.afterStep!({ step: 7, totalSteps: 10, gradients: new Map() });
    expect(values(freshLayers[1]!.loraE.value)).toEqual([0, 1, 0]);
    tf.dispose([...gradients.values()]);
    model.dispose();
    fresh.dispose();
  });
});

function handLayer(): AdaLoraLinear {
  setGlobalSeed(9);
  const adapter = new AdaLoraLinear(new Linear(4, 3, { initStd: 0.5 }), { r: 3, alpha: 3 });
  adapter.loraA.assign(tf.tensor2d([[1, 0, 2], [0, 1, 0], [0.5, 0, -1], [0, -0.5, 1]]));
  adapter.loraE.assign(tf.tensor1d([2, -1, 0.5]));
  adapter.loraB.assign(tf.tensor2d([[1, 2, 0], [0, 1, 1], [3, 0, -1]]));
  return adapter;
}

describe('AdaLoraLinear merge and input gradient', () => {
  it('merges W + s·A·diag(E)·B with pruned ranks left out (hand loops), to 1e-5, and unmerges back', () => {
    const adapter = handLayer();
    adapter.maskRanks([true, false, true]);
    const base = adapter.base as Linear;
    const w = base.weight.value.arraySync() as number[][];
    const a = adapter.loraA.value.arraySync() as number[][];
    const b = adapter.loraB.value.arraySync() as number[][];
    const e = [2, 0, 0.5];
    const s = 3 / (3 + 1e-5);
    const expected = w.map((row, i) => row.map((value, o) => value + s * e.reduce((sum, ek, k) => sum + a[i]![k]! * ek * b[k]![o]!, 0)));
    const x = tf.tensor2d([[1, -2, 0.5, 3], [0, 1, 1, -1]]);
    const before = values(adapter.forward(x));
    adapter.merge();
    (base.weight.value.arraySync() as number[][]).forEach((row, i) => row.forEach((value, o) => expect(Math.abs(value - expected[i]![o]!)).toBeLessThan(1e-5)));
    values(adapter.forward(x)).forEach((value, i) => expect(Math.abs(value - before[i]!)).toBeLessThan(1e-5));
    adapter.unmerge();
    (base.weight.value.arraySync() as number[][]).forEach((row, i) => row.forEach((value, o) => expect(Math.abs(value - w[i]![o]!)).toBeLessThan(1e-5)));
    x.dispose();
    adapter.dispose();
  });

  it('has the input gradient of finite differences', () => {
    const adapter = handLayer();
    const probe = tf.tensor2d([[1, -1, 2], [0.5, 2, -1]]);
    const x0 = [0.3, -0.2, 0.7, 0.1, -0.4, 0.9, 0.2, -0.6];
    const loss = (x: tf.Tensor) => tf.sum(tf.mul(tf.square(adapter.forward(x)), probe)) as tf.Scalar;
    const analytic = values(tf.grad(loss)(tf.tensor2d(x0, [2, 4])));
    x0.forEach((_, j) => {
      const at = (delta: number) => tf.tidy(() => loss(tf.tensor2d(x0.map((v, k) => (k === j ? v + delta : v)), [2, 4])).dataSync()[0]!);
      const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
      expect(Math.abs(analytic[j]! - numeric)).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    });
    probe.dispose();
    adapter.dispose();
  });
});
