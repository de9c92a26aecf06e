import { createBert, peft, setGlobalSeed, tf, train, type Linear, type TaskModel } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fastfood } from './fastfood';
import { intrinsicSaid } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'intrinsic-said (SAID, all block linears, head trained)',
  methods: () => [intrinsicSaid({ d: 40, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: intrinsicSaid, config: { d: 0 }, field: 'd' },
    { method: intrinsicSaid, config: { d: 10, structureAware: 'yes' }, field: 'structureAware' },
    { method: intrinsicSaid, config: { d: 10, seed: -1 }, field: 'seed' },
  ],
});

describeConformance({
  name: 'intrinsic-said (plain DID, query weights only)',
  methods: () => [intrinsicSaid({ d: 12, structureAware: false, targets: { roles: ['attention.query'], tensorKinds: ['weight'] } })],
  // Weights of std 0.3 rather than 0.02: a 12-dimensional subspace moves a 0.02-std model's outputs by ~6e-5, too little to compare.
  createModel: () => {
    setGlobalSeed(1234);
    return createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 }) as unknown as ConformanceModel;
  },
});

describe('intrinsicSaid', () => {
  it('moves each target by λ_i·P_i(θ_d) with its own Fastfood projection (checked against the Fastfood class directly)', () => {
    const model = createConformanceBert();
    const query = model.getModule('encoder.layers.0.attention.query') as Linear;
    const base = Array.from(query.weight.variable.dataSync());
    const tuned = peft(model, [intrinsicSaid({ d: 30, targets: { roles: ['attention.query'], tensorKinds: ['weight'] }, seed: 4 })]);
    const [theta, lambda] = tuned.trainableParameters();
    // Two target tensors (query weights of 2 layers) → θ_d has 30 − 2 entries.
    expect(theta!.shape).toEqual([28]);
    expect(Array.from(lambda!.value.dataSync())).toEqual([1, 1]);
    theta!.assign(tf.randomNormal([28], 0, 1, 'float32', 1));
    lambda!.assign(tf.tensor1d([0.5, -2]));
    const projection = new Fastfood(28, 256, 4 * 100_003 + 0);
    const update = projection.project(theta!.value).dataSync();
    const actual = tf.tidy(() => query.weight.value.dataSync());
    actual.forEach((value, i) => expect(value).toBeCloseTo(base[i]! + 0.5 * update[i]!, 5));
    // The variable itself stays the base value.
    expect(Array.from(query.weight.variable.dataSync())).toEqual(base);
    projection.dispose();
    model.dispose();
  });

  it('θ_d and λ have the gradients of finite differences', () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 2, seq: 5 });
    const tuned = peft(model, [intrinsicSaid({ d: 40 })]);
    model.eval();
    const [theta, lambda] = tuned.trainableParameters();
    theta!.assign(tf.randomNormal(theta!.shape, 0, 0.5, 'float32', 2));
    // A fixed random-weighted sum of the final hidden states: O(1) gradients. (Σh² of a LayerNorm
    // output with γ = 1, β = 0 is constant, so its gradients would be zero and prove nothing.)
    const weights = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 99);
    const loss = () => tf.sum(tf.mul(tuned.forward(batch).lastHiddenState, weights)) as tf.Scalar;
    for (const [parameter, index] of [[theta!, 3], [lambda!, 1]] as const) {
      const { grads, value } = tf.variableGrads(loss, [parameter.variable]);
      const analytic = grads[parameter.variable.name]!.dataSync()[index]!;
      const original = Float32Array.from(parameter.value.dataSync());
      const at = (delta: number) => {
        const shifted = Float32Array.from(original);
        shifted[index] = original[index]! + delta;
        parameter.assign(tf.tensor(shifted, parameter.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
      parameter.assign(tf.tensor(original, parameter.shape));
      expect(Math.abs(numeric)).toBeGreaterThan(0.05);
      expect(Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric))).toBeLessThan(2e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    weights.dispose();
    disposeBatch(batch);
    model.dispose();
  });

  it('refuses a d too small for the λs, naming d', () => {
    expect(() => peft(createConformanceBert(), [intrinsicSaid({ d: 3 })])).toThrowError(expect.objectContaining({ field: 'intrinsic-said.d' }));
  });

  it('fits a task the frozen model cannot: loss from chance to near zero', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [intrinsicSaid({ d: 200 })]);
    await train(tuned, { data: [batch], maxSteps: 80, learningRate: 0.05, schedule: 'constant' });
    tuned.model.eval();
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(lossOf(tuned)).toBeLessThan(0.2);
    disposeBatch(batch);
    model.dispose();
    // Fastfood transforms of every target per step: slow on a loaded 2-core machine.
  }, 400_000);
});
