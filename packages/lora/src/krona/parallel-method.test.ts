import { createBert, peft, setGlobalSeed, tf, train, type LayerContext, type TaskModel } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KronaParallelFfn } from './parallel-ffn';
import { kronaRes } from './parallel-method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'krona-res (KronA^B_res beside every FFN)',
  methods: () => [kronaRes()],
  mergeable: false,
  invalidConfigs: [
    { method: kronaRes, config: { factor: 0 }, field: 'factor' },
    { method: kronaRes, config: { scale: Number.POSITIVE_INFINITY }, field: 'scale' },
  ],
});

describeConformance({ name: 'krona-res with the head trained (modulesToSave)', methods: () => [kronaRes({ modulesToSave: { roles: ['head'] } })], mergeable: false });

describe('KronaParallelFfn', () => {
  it('adds s·x·(A ⊗ B) + λ·x to the FFN output, A ⊗ B materialised in plain JS', () => {
    const model = createConformanceBert();
    peft(model, [kronaRes({ factor: 4, scale: 0.5 })]);
    const layer = model.getModule('encoder.layers.0.ffn') as KronaParallelFfn;
    const a = tf.randomNormal([4, 4], 0, 1, 'float32', 1);
    const b = tf.randomNormal([4, 4], 0, 1, 'float32', 2);
    layer.parameter('kronaA').assign(a);
    layer.parameter('kronaB').assign(b);
    layer.parameter('residualScale').assign(tf.tensor1d([0.3]));
    const x = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 3);
    const context: LayerContext = {};
    const [A, B] = [a.arraySync() as number[][], b.arraySync() as number[][]];
    // (A ⊗ B)[i1·4 + i2][j1·4 + j2] = A[i1][j1]·B[i2][j2].
    const kron = Array.from({ length: 16 }, (_, i) => Array.from({ length: 16 }, (_, j) => A[Math.floor(i / 4)]![Math.floor(j / 4)]! * B[i % 4]![j % 4]!));
    const rows = x.reshape([6, 16]).arraySync() as number[][];
    const ffn = layer.inner.forward(x, context).reshape([6, 16]).arraySync() as number[][];
    const expected = rows.map((row, n) => Array.from({ length: 16 }, (_, j) => ffn[n]![j]! + 0.5 * row.reduce((sum, value, i) => sum + value * kron[i]![j]!, 0) + 0.3 * row[j]!));
    const actual = layer.forward(x, context).reshape([6, 16]).arraySync() as number[][];
    actual.forEach((row, n) => row.forEach((value, j) => expect(value).toBeCloseTo(expected[n]![j]!, 4)));
    model.dispose();
  });

  it('has the gradients of finite differences for A, B and λ', () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 2, seq: 5 });
    const tuned = peft(model, [kronaRes({ scale: 0.7 })]);
    model.eval();
    let seed = 5;
    for (const parameter of tuned.trainableParameters()) parameter.assign(tf.randomNormal(parameter.shape, 0, 0.5, 'float32', seed++));
    const layer = model.getModule('encoder.layers.1.ffn') as KronaParallelFfn;
    // A fixed random-weighted sum of the final hidden states: O(1) gradients. (Σh² of a LayerNorm
    // output with γ = 1, β = 0 is constant, so its gradients would be zero and prove nothing.)
    const weights = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 99);
    const loss = () => tf.sum(tf.mul(tuned.forward(batch).lastHiddenState, weights)) as tf.Scalar;
    for (const name of ['kronaA', 'kronaB', 'residualScale']) {
      const parameter = layer.parameter(name);
      const { grads, value } = tf.variableGrads(loss, [parameter.variable]);
      const analytic = grads[parameter.variable.name]!.dataSync()[0]!;
      const base = Float32Array.from(parameter.value.dataSync());
      const at = (delta: number) => {
        const shifted = Float32Array.from(base);
        shifted[0] = base[0]! + delta;
        parameter.assign(tf.tensor(shifted, parameter.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
      parameter.assign(tf.tensor(base, parameter.shape));
      expect(Math.abs(numeric), name).toBeGreaterThan(0.05);
      expect(Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric)), name).toBeLessThan(2e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    weights.dispose();
    disposeBatch(batch);
    model.dispose();
  });

  it('fits a task the frozen model cannot: loss from chance to near zero', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [kronaRes()]);
    await train(tuned, { data: [batch], maxSteps: 80, learningRate: 0.02, schedule: 'constant' });
    tuned.model.eval();
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(lossOf(tuned)).toBeLessThan(0.2);
    disposeBatch(batch);
    model.dispose();
  });
});
