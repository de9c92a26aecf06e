import { type Batch, createBert, createRegistry, Linear, loadPeft, Module, type Parameter, peft, type SelectiveAppliedMethod, setGlobalSeed, type TaskModel, tf, train } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lnTuning } from '../ln-tuning/method';
import { perturbSelected } from '../selection/test-support';
import { bitFitMethod, bitfit } from './method';
import { ZeroBiasLinear } from './layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const values = (parameter: Parameter) => Float32Array.from(parameter.value.dataSync() as Float32Array);
const applied = (model: { appliedMethods(): readonly unknown[] }, i = 0) => model.appliedMethods()[i] as SelectiveAppliedMethod;

/** Trains with the real Trainer: AdamW with weight decay on every tensor kind, so frozen entries would drift without the restore. */
async function trainFewSteps(tuned: Parameters<typeof train>[0], batch: Batch, steps = 3): Promise<number[]> {
  const result = await train(tuned, { data: [batch], maxSteps: steps, learningRate: 1e-2, weightDecay: 0.1, excludeFromWeightDecay: [], maxGradNorm: null, schedule: 'constant' });
  return result.losses;
}

describe('bitfit', () => {
  it('trains only the selected entries of partial tensors under AdamW with decay, and the report counts them exactly', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 4 });
    const tuned = peft(model, [bitfit({ subset: 'random-weight-entries', budget: 200, seed: 9 })]);
    const method = applied(tuned);
    const before = new Map(model.parameters().map((parameter) => [parameter, values(parameter)]));
    await trainFewSteps(tuned, batch);
    const selected = new Map(method.selections.map((selection) => [selection.parameter, new Set(selection.indices)]));
    const head = new Set(method.head.map((selection) => selection.parameter));
    let movedSelected = 0;
    for (const parameter of model.parameters()) {
      const after = values(parameter);
      const base = before.get(parameter)!;
      const chosen = selected.get(parameter);
      after.forEach((value, i) => {
        if (head.has(parameter)) return;
        if (chosen?.has(i)) movedSelected += value !== base[i] ? 1 : 0;
        else expect(value).toBe(base[i]);
      });
    }
    expect(movedSelected).toBe(200);
    const summary = method.summary();
    expect(summary).toMatchObject({ selectedEntries: 200, headEntries: 16 * 3 + 3 });
    // Every selected weight entry and every head entry moved; nothing else did.
    expect(tuned.report().changed).toBe(200 + 16 * 3 + 3);
    disposeBatch(batch);
    model.dispose();
  });

  it('keeps the changed count exact for whole-tensor subsets: b_q + b_m2 plus the head', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 4 });
    const tuned = peft(model, [bitfit({ subset: 'query-and-intermediate' })]);
    await trainFewSteps(tuned, batch);
    const report = tuned.report();
    // 2 layers × (h = 16 query + m = 32 intermediate) + head (16×3 + 3).
    expect(report.changed).toBe(2 * (16 + 32) + 51);
    expect(report.trainable).toBe(2 * (16 + 32) + 51);
    expect(applied(tuned).summary()).toEqual({ selectedEntries: 96, headEntries: 51, tensorEntries: 147, partialTensors: 0 });
    disposeBatch(batch);
    model.dispose();
  });

  // Hand-computed on the conformance BERT (h = 16, m = 32, 2 layers; see subsets.test.ts): the
  // subset's entries plus the head's 16 × 3 + 3 = 51, all of which move under Adam.
  const expectedChanged: Array<[Parameters<typeof bitfit>[0], number]> = [
    [{ subset: 'all' }, 2 * (4 * 16 + 32 + 16 + 2 * 16) + 16 + 16 + 51],
    [{ subset: 'query-and-intermediate' }, 2 * (16 + 32) + 51],
    [{ subset: 'all-except-query-and-intermediate' }, 2 * (3 * 16 + 16 + 2 * 16) + 16 + 16 + 51],
    [{ subset: 'layernorm' }, 2 * 2 * 16 + 51],
    [{ subset: 'random-entries', budget: 40, seed: 8 }, 40 + 51],
    [{ subset: 'random-weight-entries', budget: 150, seed: 8 }, 150 + 51],
    [{ subset: 'all', trainHead: false }, 2 * (4 * 16 + 32 + 16 + 2 * 16) + 16 + 16],
  ];
  for (const [config, expected] of expectedChanged) {
    it(`reports exactly ${expected} changed entries after training with ${JSON.stringify(config)}`, async () => {
      const model = createConformanceBert();
      const batch = conformanceBatch(model, { batch: 4 });
      const tuned = peft(model, [bitfit(config)]);
      await trainFewSteps(tuned, batch, 2);
      expect(tuned.report().changed).toBe(expected);
      disposeBatch(batch);
      model.dispose();
    });
  }

  it('keeps frozen bias entries exact for random-entries, whose tensors are partly trained', async () => {
    const model = createConformanceBert();
    // Non-zero base biases, so weight decay would move the frozen entries if nothing restored them.
    model.parameters().forEach((parameter, i) => parameter.kind === 'bias' && parameter.assign(tf.randomNormal(parameter.shape, 0, 0.5, 'float32', i)));
    const batch = conformanceBatch(model, { batch: 4 });
    const tuned = peft(model, [bitfit({ subset: 'random-entries', budget: 30, seed: 4, trainHead: false })]);
    const method = applied(tuned);
    expect(method.summary().partialTensors).toBeGreaterThan(0);
    const before = method.selections.map((selection) => values(selection.parameter));
    await trainFewSteps(tuned, batch);
    let moved = 0;
    method.selections.forEach((selection, k) => {
      const chosen = new Set(selection.indices ?? []);
      values(selection.parameter).forEach((value, i) => {
        if (selection.indices && !chosen.has(i)) expect(value).toBe(before[k]![i]);
        else if (value !== before[k]![i]) moved++;
      });
    });
    // The key bias has (almost) no gradient (softmax is shift invariant), so allow those to stay.
    expect(moved).toBeGreaterThan(20);
    expect(tuned.report().changed).toBe(moved);
    disposeBatch(batch);
    model.dispose();
  });

  it('fits a task the frozen model cannot: loss from chance to near zero', async () => {
    const makeBase = () => {
      setGlobalSeed(5);
      return createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    };
    const model = makeBase();
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [bitfit({ trainHead: false })]);
    const result = await train(tuned, { data: [batch], maxSteps: 80, learningRate: 0.05, schedule: 'constant' });
    tuned.model.eval();
    const tunedLoss = lossOf(tuned);
    // Twelve random labels: the frozen model sits near chance (ln 2 ≈ 0.69); bias terms alone fit them.
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(tunedLoss).toBeLessThan(0.2);
    expect(result.losses.at(-1)!).toBeLessThan(frozenLoss / 4);
    disposeBatch(batch);
    model.dispose();
  });

  it('disables to the base model and back, and removes cleanly', () => {
    const model = createConformanceBert();
    const bias = model.getParameter('encoder.layers.0.attention.query.bias');
    const base = values(bias);
    const tuned = peft(model, [bitfit()]);
    bias.assign(tf.fill(bias.shape, 0.5));
    tuned.disable();
    expect(values(bias)).toEqual(base);
    tuned.enable();
    expect(values(bias).every((value) => value === 0.5)).toBe(true);
    applied(tuned).remove!();
    expect(values(bias)).toEqual(base);
    expect(bias.trainable).toBe(false);
    model.dispose();
  });

  it('merges as a no-op: the tuned biases are the weights', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [bitfit()]);
    const bias = model.getParameter('encoder.layers.1.ffn.down.bias');
    bias.assign(tf.fill(bias.shape, 0.25));
    tuned.merge();
    expect(values(bias).every((value) => value === 0.25)).toBe(true);
    tuned.unmerge();
    expect(values(bias).every((value) => value === 0.25)).toBe(true);
    model.dispose();
  });

  it('saves only the selected entries with their indices, loads them back, and refuses indices from another seed', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 2, seq: 6 });
    const baseOutput = tf.tidy(() => model.forward(batch).lastHiddenState.dataSync());
    const tuned = peft(model, [bitfit({ subset: 'random-entries', budget: 25, seed: 1, trainHead: false })]);
    perturbSelected(tuned);
    const expected = tf.tidy(() => tuned.forward(batch).lastHiddenState.dataSync());
    const moved = Math.max(...expected.map((value, i) => Math.abs(value - baseOutput[i]!)));
    expect(moved).toBeGreaterThan(1e-2);
    const state = applied(tuned).state();
    const stored = Object.entries(state).reduce((count, [key, tensor]) => count + (key.endsWith('.values') || !key.endsWith('.indices') ? tensor.size : 0), 0);
    expect(stored).toBe(25);
    const dir = await mkdtemp(join(tmpdir(), 'bitfit-'));
    try {
      await tuned.save(dir);
      const registry = createRegistry([bitFitMethod]);
      const fresh = createConformanceBert();
      const loaded = await loadPeft(fresh, dir, { registry });
      const actual = tf.tidy(() => loaded.forward(batch).lastHiddenState.dataSync());
      actual.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(1e-5));
      fresh.dispose();
      const other = peft(createConformanceBert(), [bitfit({ subset: 'random-entries', budget: 25, seed: 2, trainHead: false })]);
      const saved = applied(tuned).state();
      expect(() => applied(other).load(Object.fromEntries(Object.keys(applied(other).state()).map((key) => [key, saved[key] ?? tf.zeros([1])])))).toThrowError(
        expect.objectContaining({ code: 'checkpoint-mismatch' }),
      );
      other.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('leaves parameters an earlier method trains to it, and composes with ln-tuning (BitFit+ gamma + BitFit)', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [bitfit(), lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'] })]);
    const [bitfitApplied, lnApplied] = [applied(tuned, 0), applied(tuned, 1)];
    // The head went to bitfit (first); ln-tuning adds the 2 × 2 block gammas of size 16.
    expect(lnApplied.head).toHaveLength(0);
    expect(lnApplied.summary().selectedEntries).toBe(2 * 2 * 16);
    expect(tuned.report().trainable).toBe(bitfitApplied.summary().selectedEntries + 51 + 64);
    expect(() => peft(createConformanceBert(), [lnTuning({ tensors: 'beta' }), bitfit({ subset: 'layernorm' })])).toThrowError(expect.objectContaining({ code: 'composition-conflict' }));
    model.dispose();
  });

  it('adds zero biases to bias-less Linears on request, leaving outputs unchanged until trained', () => {
    class TinyNoBias extends Module {
      constructor() {
        super();
        setGlobalSeed(3);
        this.registerModule('up', new Linear(4, 6, { bias: false, role: 'ffn.up' }));
        this.registerModule('down', new Linear(6, 2, { bias: false, role: 'ffn.down' }));
      }
      forward(x: tf.Tensor): tf.Tensor {
        return tf.tidy(() => this.child('down').forward(tf.relu(this.child('up').forward(x))));
      }
    }
    const model = new TinyNoBias();
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const before = model.forward(x).dataSync().slice();
    expect(() => peft(model, [bitfit()])).toThrowError(expect.objectContaining({ code: 'selector-no-match', field: 'addZeroBiases' }));
    const tuned = peft(model, [bitfit({ addZeroBiases: true })]);
    expect(model.getModule('up')).toBeInstanceOf(ZeroBiasLinear);
    expect(tuned.trainableParameters().map((parameter) => parameter.size)).toEqual([6, 2]);
    expect([...model.forward(x).dataSync()]).toEqual([...before]);
    model.getParameter('down.bias').assign(tf.tensor1d([1, -1]));
    const shifted = model.forward(x).dataSync();
    expect(shifted[0]! - before[0]!).toBeCloseTo(1, 6);
    expect(shifted[1]! - before[1]!).toBeCloseTo(-1, 6);
    // Added biases cannot fold into a bias-less Linear.
    expect(() => tuned.merge()).toThrowError(expect.objectContaining({ code: 'not-mergeable' }));
    applied(tuned).remove!();
    expect(model.getModule('up')).toBeInstanceOf(Linear);
    expect([...model.forward(x).dataSync()]).toEqual([...before]);
    x.dispose();
    model.dispose();
  });
});

describe('bitfit layers option', () => {
  it('trains only the biases of the chosen blocks (and the head)', () => {
    setGlobalSeed(2);
    const model = createBert({ vocabSize: 30, hiddenSize: 8, numLayers: 3, numHeads: 2, maxPositions: 8, numLabels: 2 });
    const tuned = peft(model, [bitfit({ layers: [1], trainHead: false })]);
    const trained = model.namedParameters().filter(([, parameter]) => parameter.trainable).map(([path]) => path);
    expect(trained.length).toBeGreaterThan(0);
    expect(trained.every((path) => path.startsWith('encoder.layers.1.'))).toBe(true);
    const everyLayer = peft(createBert({ vocabSize: 30, hiddenSize: 8, numLayers: 3, numHeads: 2, maxPositions: 8, numLabels: 2 }), [bitfit({ trainHead: false })]);
    expect(everyLayer.trainableParameters().length).toBeGreaterThan(3 * trained.length - 1);
    tuned.model.dispose();
  });
});
