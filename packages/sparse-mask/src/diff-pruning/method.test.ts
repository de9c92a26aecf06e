import { Trainer, peft, tf, type Parameter } from '@peftjs/core';
import { createConformanceBert, disposeBatch } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradientCheck, perturbTrainable, referenceTopKOfScores, trainBriefly, trainingBatches } from '../shared/test-support';
import { hardConcreteMask, nonZeroProbability } from './hard-concrete';
import { diffPruning, type DiffPruningAppliedMethod } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const settings = { temperature: 1, stretch: [-1.5, 1.5] as const };

function holderParameter(model: { namedParameters(): Array<[string, Parameter]> }, suffix: string): Parameter {
  return model.namedParameters().find(([path]) => path.endsWith(suffix))![1];
}

describe('hard concrete', () => {
  it('the test-time mask is clip(σ(log α)(r − l) + l, 0, 1) and P(z ≠ 0) = σ(log α − β log(−l/r))', () => {
    const logAlpha = tf.tensor1d([-3, 0, 0.3, 5]);
    const z = Array.from(hardConcreteMask(logAlpha, settings).dataSync());
    [-3, 0, 0.3, 5].forEach((a, i) => expect(z[i]).toBeCloseTo(Math.min(1, Math.max(0, sigmoid(a) * 3 - 1.5)), 6));
    const p = Array.from(nonZeroProbability(logAlpha, { temperature: 2, stretch: [-0.5, 2] }).dataSync());
    [-3, 0, 0.3, 5].forEach((a, i) => expect(p[i]).toBeCloseTo(sigmoid(a - 2 * Math.log(0.25)), 6));
    const sampled = Array.from(hardConcreteMask(tf.fill([1000], 0), settings, 3).dataSync());
    expect(sampled.some((v) => v === 0) && sampled.some((v) => v === 1) && sampled.some((v) => v > 0 && v < 1)).toBe(true);
    logAlpha.dispose();
  });
});

describe('diff-pruning', () => {
  it('dense phase: gradients of w and log α match central differences on an O(1) loss', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [diffPruning({ alphaInit: 0.3 })]);
    tuned.model.eval();
    perturbTrainable(tuned, 0.3);
    for (const suffix of ['diff_0', 'log_alpha_0']) {
      const { analytic, numeric } = gradientCheck(tuned, holderParameter(model, suffix), [0, 7, 33, 100]);
      expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(0.02);
      analytic.forEach((value, i) => expect(Math.abs(value - numeric[i]!)).toBeLessThan(2e-3 + 3e-2 * Math.abs(value)));
    }
    model.dispose();
  });

  it('regularization is λ Σ P(z ≠ 0), times the group probability with groupPenalty', () => {
    for (const groupPenalty of [false, true]) {
      const model = createConformanceBert();
      const tuned = peft(model, [diffPruning({ l0Weight: 0.01, alphaInit: 0.4, groupPenalty })]);
      const method = tuned.appliedMethods()[0]!;
      const alphas = model.namedParameters().filter(([path]) => /log_alpha_\d+$/.test(path));
      const c = Math.log(1.5 / 1.5);
      let expected = 0;
      for (const [, alpha] of alphas) expected += Array.from(alpha.variable.dataSync()).reduce((s, a) => s + sigmoid(a - c), 0) * (groupPenalty ? sigmoid(0.4 - c) : 1);
      const value = method.regularization!();
      expect(value.dataSync()[0]).toBeCloseTo(0.01 * expected, 3);
      value.dispose();
      model.dispose();
    }
  });

  it('projection keeps the k entries of largest |z̄ ⊙ w| (plain JS) as a sparse delta with those values', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [diffPruning({ density: 0.02, alphaInit: 0.3 })]);
    perturbTrainable(tuned, 0.5);
    const method = tuned.appliedMethods()[0] as unknown as DiffPruningAppliedMethod;
    const delta = method.delta;
    const products = delta.targets.map((_, i) => {
      const w = holderParameter(model, `.diff_${i}`).variable.dataSync();
      const a = holderParameter(model, `.log_alpha_${i}`).variable.dataSync();
      return Array.from(w, (v, j) => Math.fround(v * Math.min(1, Math.max(0, Math.fround(sigmoid(a[j]!) * 3 - 1.5)))));
    });
    const expected = referenceTopKOfScores(products.map((p) => p.map(Math.abs)), delta.size);
    method.project();
    expect(method.isProjected()).toBe(true);
    expect(Array.from(delta.globalIndices())).toEqual(expected);
    const flat = products.flat();
    Array.from(delta.values.value.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(flat[expected[i]!]!, 4));
    expect(tuned.trainableParameters().filter((p) => p.kind !== 'weight' && p.kind !== 'bias')).toEqual([delta.values]);
    model.dispose();
  });

  it('the L0 penalty lowers the expected number of non-zero entries', async () => {
    const expectedL0 = async (l0Weight: number) => {
      const { tuned, release } = await trainBriefly([diffPruning({ l0Weight, alphaInit: 0.5, projectAtEnd: false })], { steps: 10, learningRate: 5e-2 });
      const total = tuned.model.namedParameters().filter(([path]) => /log_alpha_\d+$/.test(path)).reduce((s, [, p]) => s + Array.from(p.variable.dataSync()).reduce((n, a) => n + sigmoid(a), 0), 0);
      release();
      return total;
    };
    const without = await expectedL0(0);
    const withPenalty = await expectedL0(1e-2);
    expect(withPenalty).toBeLessThan(without * 0.95);
  });

  it('trains, projects after the last step (trainable = changed = k + head after merge), then fine-tunes the fixed mask', async () => {
    const { tuned, before, after, data, release } = await trainBriefly([diffPruning({ density: 0.05, l0Weight: 1e-4 })], { steps: 30 });
    const method = tuned.appliedMethods()[0] as unknown as DiffPruningAppliedMethod;
    expect(method.isProjected()).toBe(true);
    expect(after).toBeLessThan(before - 0.02);
    const head = tuned.trainableParameters().filter((p) => p !== method.delta.values).reduce((n, p) => n + p.size, 0);
    expect(tuned.report().trainable).toBe(method.entries + head);
    const indices = Array.from(method.delta.globalIndices());
    const trainer = new Trainer(tuned, { data, learningRate: 3e-2, maxSteps: 10, shuffle: false, maxGradNorm: null });
    await trainer.train();
    trainer.dispose();
    expect(Array.from(method.delta.globalIndices())).toEqual(indices);
    tuned.merge();
    expect(tuned.report().changed).toBe(method.entries + head);
    tuned.unmerge();
    release();
  });

  it('a saved projected adapter loads onto a fresh model as a sparse delta', async () => {
    const model = createConformanceBert();
    const batches = trainingBatches(model, 1);
    const tuned = peft(model, [diffPruning({ density: 0.05 })]);
    perturbTrainable(tuned, 0.5);
    (tuned.appliedMethods()[0] as unknown as DiffPruningAppliedMethod).project();
    const state = tuned.appliedMethods()[0]!.state();
    expect(Object.keys(state)).toEqual(expect.arrayContaining(['indices', 'values']));
    expect(Object.keys(state).filter((key) => key.endsWith('.diff') || key.endsWith('.log_alpha'))).toEqual([]);
    expect(state.indices!.size).toBe(Math.floor((tuned.appliedMethods()[0] as unknown as DiffPruningAppliedMethod).delta.totalEntries * 0.05));
    const fresh = createConformanceBert();
    const loaded = peft(fresh, [diffPruning({ density: 0.05 })]);
    loaded.appliedMethods()[0]!.load(state);
    const out = (m: typeof tuned) => tf.tidy(() => m.forward(batches[0]!).lastHiddenState.dataSync());
    tuned.model.eval();
    loaded.model.eval();
    const base = createConformanceBert();
    const baseOut = tf.tidy(() => base.forward(batches[0]!).lastHiddenState.dataSync());
    const a = out(tuned);
    const b = out(loaded);
    expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - baseOut[i]!)))).toBeGreaterThan(1e-2);
    expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
    batches.forEach(disposeBatch);
    [model, fresh, base].forEach((m) => m.dispose());
  });
});
