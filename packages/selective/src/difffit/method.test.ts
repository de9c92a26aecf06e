import { createBert, peft, setGlobalSeed, tf, train, type LayerContext, type Parameter, type TaskModel } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { diffFit } from './method';
import { ResidualScale } from './residual-scale';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const values = (parameter: Parameter) => Float32Array.from(parameter.value.dataSync() as Float32Array);

describe('difffit', () => {
  it('trains exactly the biases, the norms, one γ per branch and the head; the report counts them', () => {
    const model = createConformanceBert();
    const hidden = 16;
    const tuned = peft(model, [diffFit()]);
    const trained = new Set(tuned.trainableParameters());
    const gammas = tuned.trainableParameters().filter((parameter) => parameter.kind === 'scale');
    expect(gammas).toHaveLength(2 * 2); // 2 layers × (attention, ffn)
    for (const gamma of gammas) expect(Array.from(gamma.value.dataSync())).toEqual(new Array(hidden).fill(1));
    for (const [path, parameter] of model.namedParameters()) {
      const expected = path.startsWith('head.') || parameter.kind === 'bias' || parameter.kind === 'gamma' || parameter.kind === 'beta' || parameter.kind === 'scale';
      expect(trained.has(parameter), path).toBe(expected);
    }
    const entries = tuned.trainableParameters().reduce((sum, parameter) => sum + parameter.size, 0);
    expect(tuned.report().trainable).toBe(entries);
    model.dispose();
  });

  it('puts γ only in the chosen blocks, and refuses a block that does not exist', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [diffFit({ layers: [1], trainBiases: false, trainNorms: false, trainHead: false })]);
    const scaled = model.namedModules().filter(([, module]) => module instanceof ResidualScale).map(([path]) => path);
    expect(scaled).toEqual(['encoder.layers.1.attention', 'encoder.layers.1.ffn']);
    expect(tuned.report().trainable).toBe(2 * 16);
    model.dispose();
    const other = createConformanceBert();
    expect(() => peft(other, [diffFit({ layers: [7] })])).toThrowError(expect.objectContaining({ field: 'difffit.layers' }));
    other.dispose();
  });

  it('scales the sublayer output by γ before the residual add (post-LN block computed by hand)', () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 2, seq: 5 });
    peft(model, [diffFit({ trainBiases: false, trainNorms: false, trainHead: false })]);
    const block = model.getModule('encoder.layers.0') as unknown as { child(name: string): { forward(...args: unknown[]): tf.Tensor } };
    const attention = model.getModule('encoder.layers.0.attention') as ResidualScale;
    const ffn = model.getModule('encoder.layers.0.ffn') as ResidualScale;
    const gammaA = tf.randomNormal([16], 1, 0.5, 'float32', 1);
    const gammaF = tf.randomNormal([16], 1, 0.5, 'float32', 2);
    attention.gamma.assign(gammaA);
    ffn.gamma.assign(gammaF);
    const x = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 3);
    const context: LayerContext = {};
    const h = block.child('attentionNorm').forward(tf.add(x, tf.mul(attention.inner.forward(x, context), gammaA)));
    const expected = block.child('ffnNorm').forward(tf.add(h, tf.mul(ffn.inner.forward(h, context), gammaF)));
    const actual = (model.getModule('encoder.layers.0') as unknown as { forward(x: tf.Tensor, c: LayerContext): tf.Tensor }).forward(x, context);
    expect(actual.shape).toEqual([2, 5, 16]);
    const [a, e] = [actual.dataSync(), expected.dataSync()];
    a.forEach((value, i) => expect(value).toBeCloseTo(e[i]!, 5));
    tf.dispose([gammaA, gammaF, x, h, expected, actual]);
    disposeBatch(batch);
    model.dispose();
  });

  it('γ has the gradient of a finite-difference check (O(1) init, O(1) gradients)', () => {
    // The conformance model's 0.02 init leaves γ's task-loss gradient near 1e-7, below any
    // finite-difference tolerance: use weights of std 0.3, a γ away from 1 and a loss with O(1)
    // weights on every logit, so every checked gradient is far above the tolerance.
    setGlobalSeed(8);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 3, seq: 6 });
    const tuned = peft(model, [diffFit({ trainBiases: false, trainNorms: false, trainHead: false })]);
    model.eval();
    // A random-weighted sum of the logits: every logit gets an O(1) weight.
    const probe = tf.randomNormal([3, 3], 0, 1, 'float32', 12);
    for (const path of ['encoder.layers.0.attention', 'encoder.layers.1.ffn']) {
      const gamma = (model.getModule(path) as ResidualScale).gamma;
      gamma.assign(tf.randomNormal([16], 1, 0.5, 'float32', path.length));
      const loss = () => tf.tidy(() => tf.sum(tf.mul(tuned.forward(batch).logits, probe)) as tf.Scalar);
      const { grads, value } = tf.variableGrads(loss, [gamma.variable]);
      const analytic = grads[gamma.variable.name]!.dataSync();
      const base = values(gamma);
      const epsilon = 1e-2;
      for (const i of [0, 5, 11]) {
        const at = (delta: number) => {
          const shifted = Float32Array.from(base);
          shifted[i] = base[i]! + delta;
          gamma.assign(tf.tensor1d(shifted));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (at(epsilon) - at(-epsilon)) / (2 * epsilon);
        gamma.assign(tf.tensor1d(base));
        expect(Math.abs(numeric), `${path} γ[${i}]`).toBeGreaterThan(2e-2);
        expect(Math.abs(analytic[i]! - numeric), `${path} γ[${i}]`).toBeLessThan(1e-3 * Math.abs(numeric) + 1e-4);
      }
      tf.dispose([value, ...Object.values(grads)]);
    }
    probe.dispose();
    disposeBatch(batch);
    model.dispose();
  });

  it('folds γ into the output projections on merge: the merged model has no wrapper cost and the same outputs', () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 2, seq: 6 });
    const tuned = peft(model, [diffFit()]);
    model.eval();
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.2, 'float32', 7))));
    const before = tf.tidy(() => tuned.forward(batch).logits.dataSync());
    const down = model.getModule('encoder.layers.0.ffn.inner.down') as unknown as { weight: Parameter };
    const weightBefore = values(down.weight);
    const gamma = values((model.getModule('encoder.layers.0.ffn') as ResidualScale).gamma);
    tuned.merge();
    // Column j of W [in, out] is multiplied by γ_j.
    const merged = values(down.weight);
    merged.forEach((value, index) => expect(value).toBeCloseTo(weightBefore[index]! * gamma[index % 16]!, 5));
    const after = tf.tidy(() => tuned.forward(batch).logits.dataSync());
    after.forEach((value, i) => expect(value).toBeCloseTo(before[i]!, 5));
    disposeBatch(batch);
    model.dispose();
  });

  it('after training: frozen tensors are bit-identical, the report counts exactly the changed entries, merged', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 4, seq: 6 });
    const tuned = peft(model, [diffFit()]);
    const base = model.namedParameters().filter(([, parameter]) => tuned.isBaseParameter(parameter));
    const before = new Map(base.map(([, parameter]) => [parameter, values(parameter)]));
    await train(tuned, { data: [batch], maxSteps: 3, learningRate: 1e-2 });
    let changedTrained = 0;
    for (const [path, parameter] of base) {
      const now = values(parameter);
      const old = before.get(parameter)!;
      if (parameter.trainable) changedTrained += now.filter((value, i) => value !== old[i]).length;
      else expect(Array.from(now), path).toEqual(Array.from(old));
    }
    const gammas = tuned.trainableParameters().filter((parameter) => parameter.kind === 'scale');
    for (const gamma of gammas) expect(values(gamma).every((value) => value !== 1)).toBe(true);
    // Merged, every γ_j ≠ 1 rescales column j of attention.output [16, 16] and ffn.down [32, 16] in both layers;
    // their biases are trained anyway and already counted.
    const foldedWeights = 2 * (16 * 16 + 32 * 16);
    expect(tuned.report().changed).toBe(changedTrained + foldedWeights);
    disposeBatch(batch);
    model.dispose();
  });

  it('saves unmerged values while merged: loading onto a fresh model gives the merged outputs', () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 2, seq: 6 });
    const tuned = peft(model, [diffFit()]);
    model.eval();
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.2, 'float32', 9))));
    const expected = tf.tidy(() => tuned.forward(batch).logits.dataSync());
    tuned.merge();
    const state = tuned.entries()[0]!.applied.state();
    const fresh = createConformanceBert();
    const loaded = peft(fresh, [diffFit()]);
    fresh.eval();
    // The trained values move the logits far beyond the 5e-6 of toBeCloseTo(·, 5).
    const before = tf.tidy(() => loaded.forward(batch).logits.dataSync());
    expect(Math.max(...before.map((value, i) => Math.abs(value - expected[i]!)))).toBeGreaterThan(1e-2);
    loaded.entries()[0]!.applied.load(state);
    const actual = tf.tidy(() => loaded.forward(batch).logits.dataSync());
    actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    // Loading into a merged model keeps it merged and equal too.
    tuned.entries()[0]!.applied.load(state);
    const reloaded = tf.tidy(() => tuned.forward(batch).logits.dataSync());
    reloaded.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    disposeBatch(batch);
    model.dispose();
    fresh.dispose();
  });

  it('fits a task the frozen model cannot: loss from chance to near zero', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [diffFit({ trainHead: false })]);
    await train(tuned, { data: [batch], maxSteps: 80, learningRate: 0.05, schedule: 'constant' });
    tuned.model.eval();
    const tunedLoss = lossOf(tuned);
    // Twelve random labels: the frozen model sits near chance (ln 2 ≈ 0.69).
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(tunedLoss).toBeLessThan(0.2);
    disposeBatch(batch);
    model.dispose();
  });
});
