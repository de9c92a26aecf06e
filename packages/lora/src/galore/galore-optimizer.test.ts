import { Parameter, createBert, fullFineTuning, setGlobalSeed, svd, tf, train, type OptimizerSettings, type TaskModel } from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { GaloreOptimizer, galore } from './galore-optimizer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const settings = (names: string[]): OptimizerSettings => ({ learningRate: 0.1, weightDecay: 0, epsilon: 1e-8, names });

describe('GaloreOptimizer', () => {
  it('first step: W − lr·α·N(G·Pᵀ)·P with P the top-r right singular vectors (computed independently)', () => {
    const initial = tf.randomNormal([6, 4], 0, 1, 'float32', 1);
    const weight = new Parameter(initial.clone());
    const gradient = tf.randomNormal([6, 4], 0, 1, 'float32', 2);
    const optimizer = new GaloreOptimizer([weight], settings(['w']), { rank: 2, scale: 0.5, targets: () => true });
    optimizer.step(new Map([[weight, gradient]]));
    // Independent: SVD of G on the host; P = first 2 rows of Vᵀ.
    const { v, k } = svd({ data: gradient.dataSync(), rows: 6, cols: 4 });
    const projection = tf.tensor2d(Array.from({ length: 2 * 4 }, (_, index) => v[(index % 4) * k + Math.floor(index / 4)]!), [2, 4]);
    const expected = tf.tidy(() => {
      const r = tf.matMul(gradient, projection, false, true);
      // Step 1 of Adam: m = 0.1 r, v = 0.001 r², step = lr·√0.001/0.1; N = m/(√v + ε).
      const normalized = tf.div(tf.mul(r, 0.1), tf.add(tf.sqrt(tf.mul(tf.square(r), 0.001)), 1e-8));
      return tf.sub(initial, tf.mul(tf.matMul(normalized, projection), (0.1 * Math.sqrt(0.001)) / 0.1 * 0.5));
    });
    Array.from(weight.value.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expected.dataSync()[i]!, 4));
    // The moments live in the projected space [m, r].
    const state = optimizer.state();
    expect(state.tensors['w.exp_avg']!.shape).toEqual([6, 2]);
    expect(state.tensors['w.projection']!.shape).toEqual([2, 4]);
    optimizer.dispose();
  });

  it('projects from the left for wide matrices and keeps [r, n] moments; the state is smaller than Adam by the expected ratio', () => {
    const weight = new Parameter(tf.randomNormal([3, 10], 0, 1, 'float32', 3));
    const optimizer = new GaloreOptimizer([weight], settings(['w']), { rank: 2, targets: () => true });
    optimizer.step(new Map([[weight, tf.randomNormal([3, 10], 0, 1, 'float32', 4)]]));
    const { tensors } = optimizer.state();
    expect(tensors['w.exp_avg']!.shape).toEqual([2, 10]);
    expect(tensors['w.projection']!.shape).toEqual([3, 2]);
    const entries = Object.values(tensors).reduce((sum, tensor) => sum + tensor.size, 0);
    // Adam: 2·3·10 = 60; GaLore: 2·2·10 + 3·2 = 46.
    expect(entries).toBe(46);
    optimizer.dispose();
  });

  it("projects a square [in, out] weight on its input side (left, U_r), as galore_torch does on nn.Linear's [out, in]", () => {
    const initial = tf.randomNormal([5, 5], 0, 1, 'float32', 7);
    const weight = new Parameter(initial.clone());
    const gradient = tf.randomNormal([5, 5], 0, 1, 'float32', 8);
    const optimizer = new GaloreOptimizer([weight], settings(['w']), { rank: 2, scale: 0.5, targets: () => true });
    optimizer.step(new Map([[weight, gradient]]));
    // galore_torch on the transposed gradient Gᵀ [out, in] (square, so 'right'): R' = Gᵀ·V'ᵀ_r with
    // V' the right singular vectors of Gᵀ, i.e. the left ones U of G. In our layout: R = U_rᵀ·G [r, n].
    const { u, k } = svd({ data: gradient.dataSync(), rows: 5, cols: 5 });
    const projection = tf.tensor2d(Array.from({ length: 5 * 2 }, (_, index) => u[Math.floor(index / 2) * k + (index % 2)]!), [5, 2]);
    const expected = tf.tidy(() => {
      const r = tf.matMul(projection, gradient, true, false);
      const normalized = tf.div(tf.mul(r, 0.1), tf.add(tf.sqrt(tf.mul(tf.square(r), 0.001)), 1e-8));
      return tf.sub(initial, tf.mul(tf.matMul(projection, normalized), (0.1 * Math.sqrt(0.001)) / 0.1 * 0.5));
    });
    const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(weight.value, initial))).dataSync()[0]!);
    expect(moved).toBeGreaterThan(1e-3);
    Array.from(weight.value.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expected.dataSync()[i]!, 4));
    const { tensors } = optimizer.state();
    expect(tensors['w.projection']!.shape).toEqual([5, 2]);
    expect(tensors['w.exp_avg']!.shape).toEqual([2, 5]);
    optimizer.dispose();
    // squareSide 'output' projects the columns instead (galore_torch on an [in, out] Conv1D weight).
    const other = new Parameter(initial.clone());
    const outputSide = new GaloreOptimizer([other], settings(['w']), { rank: 2, targets: () => true, squareSide: 'output' });
    outputSide.step(new Map([[other, gradient]]));
    expect(outputSide.state().tensors['w.projection']!.shape).toEqual([2, 5]);
    outputSide.dispose();
    expect(() => new GaloreOptimizer([other], settings(['w']), { squareSide: 'rows' as never })).toThrowError(expect.objectContaining({ field: 'squareSide' }));
  });

  it('refreshes the projection exactly every updateProjGap steps', () => {
    const weight = new Parameter(tf.randomNormal([5, 4], 0, 1, 'float32', 5));
    const optimizer = new GaloreOptimizer([weight], settings(['w']), { rank: 2, updateProjGap: 3, targets: () => true });
    const projections: number[][] = [];
    for (let step = 0; step < 7; step++) {
      const gradient = tf.randomNormal([5, 4], 0, 1, 'float32', 10 + step);
      optimizer.step(new Map([[weight, gradient]]));
      projections.push(Array.from(optimizer.state().tensors['w.projection']!.dataSync()));
      gradient.dispose();
    }
    const changed = projections.map((p, i) => i === 0 || p.some((value, j) => value !== projections[i - 1]![j]));
    // Refreshed before updates 1, 4 and 7 (steps 0, 3, 6 counted from 0).
    expect(changed).toEqual([true, false, false, true, false, false, true]);
    optimizer.dispose();
  });

  it('resumes from its state: the next step equals the uninterrupted one, and tensors stay flat', () => {
    const make = () => new Parameter(tf.randomNormal([6, 4], 0, 1, 'float32', 6));
    const [a, b] = [make(), make()];
    const gradients = Array.from({ length: 4 }, (_, i) => tf.randomNormal([6, 4], 0, 1, 'float32', 20 + i));
    const options = { rank: 2, updateProjGap: 2, targets: () => true };
    const first = new GaloreOptimizer([a], settings(['w']), options);
    for (const g of gradients) first.step(new Map([[a, g]]));
    const second = new GaloreOptimizer([b], settings(['w']), options);
    for (const g of gradients.slice(0, 3)) second.step(new Map([[b, g]]));
    const resumed = new GaloreOptimizer([b], settings(['w']), options);
    resumed.load(second.state());
    second.dispose();
    const before = tf.memory().numTensors;
    resumed.step(new Map([[b, gradients[3]!]]));
    expect(tf.memory().numTensors).toBe(before);
    Array.from(b.value.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(a.value.dataSync()[i]!, 6));
    expect(() => resumed.load({ tensors: {}, steps: { other: 1 } })).toThrow(/unknown parameter "other"/);
    first.dispose();
    resumed.dispose();
  });

  it('fits a task the frozen model cannot when it trains the full weights of a tiny encoder', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const result = await train(fullFineTuning(model), { data: [batch], maxSteps: 60, learningRate: 0.01, schedule: 'constant', optimizer: galore({ rank: 4, updateProjGap: 20 }) });
    model.eval();
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(lossOf(model)).toBeLessThan(0.2);
    expect(result.losses.length).toBe(60);
    disposeBatch(batch);
    model.dispose();
  });
});
