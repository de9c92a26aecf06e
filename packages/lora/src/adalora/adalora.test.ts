import { Linear, createBert, peft, setGlobalSeed, tf, train, type Parameter, type TaskModel } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { budgetAt, pruningThreshold } from './budget';
import { AdaLoraLinear } from './layer';
import { adalora } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'adalora (query, value; head trained)',
  methods: () => [adalora({ initR: 4, targetR: 2, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: adalora, config: { initR: 0 }, field: 'initR' },
    { method: adalora, config: { initR: 2, targetR: 4 }, field: 'targetR' },
    { method: adalora, config: { beta1: 1 }, field: 'beta1' },
    { method: adalora, config: { deltaT: 0 }, field: 'deltaT' },
  ],
});

describe('AdaLoRA budget schedule', () => {
  const schedule = { initialBudget: 48, targetBudget: 16, tinit: 10, tfinal: 20, totalSteps: 110, deltaT: 5 };
  it('keeps the initial budget through tinit, decays cubically, and holds the target in the last tfinal steps', () => {
    expect(budgetAt(10, schedule)).toEqual({ budget: 48, mask: false, final: false });
    // t = 30: 1 − 20/80 = 0.75, 32·0.421875 + 16 = 29.5 → 29; 30 % 5 = 0 → prune.
    expect(budgetAt(30, schedule)).toEqual({ budget: 29, mask: true, final: false });
    // t = 31: 1 − 21/80 = 0.7375, 32·0.40113 + 16 = 28.84 → 28; not a multiple of deltaT.
    expect(budgetAt(31, schedule)).toEqual({ budget: 28, mask: false, final: false });
    expect(budgetAt(90, schedule)).toEqual({ budget: 16, mask: true, final: false });
    expect(budgetAt(91, schedule)).toEqual({ budget: 16, mask: true, final: true });
  });

  it('prunes the lowest scores down to the budget', () => {
    expect(pruningThreshold([0.5, 0.1, 0.9, 0.3], 2)).toBe(0.3);
    expect(pruningThreshold([0.5, 0.1], 2)).toBe(Number.NEGATIVE_INFINITY);
  });
});

function layer(): AdaLoraLinear {
  setGlobalSeed(3);
  const adapter = new AdaLoraLinear(new Linear(4, 3, { initStd: 0.5 }), { r: 2, alpha: 2 });
  adapter.loraA.assign(tf.tensor2d([[1, 0], [0, 1], [0.5, 0], [0, -0.5]]));
  adapter.loraE.assign(tf.tensor1d([2, -1]));
  adapter.loraB.assign(tf.tensor2d([[1, 2, 0], [0, 1, 1]]));
  return adapter;
}

describe('AdaLoraLinear', () => {
  it('computes x·W + s·((x·A) ⊙ E)·B with s = alpha / (r + 1e-5)', () => {
    const adapter = layer();
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const s = 2 / (2 + 1e-5);
    // x·A = [1 + 1.5, 2 − 2] = [2.5, 0]; ⊙E·s = [5s, 0]; ·B = [5s, 10s, 0].
    const base = Array.from(adapter.base.forward(x).dataSync());
    const expected = [5 * s, 10 * s, 0].map((v, j) => v + base[j]!);
    Array.from(adapter.forward(x).dataSync()).forEach((value, j) => expect(value).toBeCloseTo(expected[j]!, 5));
    adapter.dispose();
  });

  it('smooths importance as Eq. 8–9 and scores triplets as Eq. 10–11 (hand numbers)', () => {
    const adapter = layer();
    const gradients = new Map<Parameter, tf.Tensor>([
      [adapter.loraA, tf.fill([4, 2], 1)],
      [adapter.loraE, tf.tensor1d([0.5, 2])],
      [adapter.loraB, tf.fill([2, 3], -1)],
    ]);
    adapter.updateImportance(gradients, 0.5, 0.5);
    // E: I = |E·g| = [1, 2]; Ī = 0.5·I = [0.5, 1]; Ū = 0.5·|I − Ī| = [0.25, 0.5]; s = [0.125, 0.5].
    const state = adapter.importanceState('l');
    expect(Array.from(state['l.importance.E.sensitivity']!.dataSync())).toEqual([0.5, 1]);
    expect(Array.from(state['l.importance.E.uncertainty']!.dataSync())).toEqual([0.25, 0.5]);
    // A column 0: I = [1, 0, 0.5, 0] → Ī = I/2, Ū = I/4, s = I²/8 → mean (1 + 0.25)/8/4 = 0.0390625; column 1: I = [0, 1, 0, 0.5] → same.
    // B row 0: I = [1, 2, 0] → s = I²/8 = [0.125, 0.5, 0] → mean 0.208333; row 1: I = [0, 1, 1] → [0, 0.125, 0.125] → 0.083333.
    const scores = adapter.tripletScores();
    expect(scores[0]).toBeCloseTo(0.125 + 0.0390625 + 0.625 / 3, 6);
    expect(scores[1]).toBeCloseTo(0.5 + 0.0390625 + 0.25 / 3, 6);
    tf.dispose([...gradients.values()]);
    adapter.dispose();
  });

  it('has the gradients of finite differences for A, E, B', () => {
    const adapter = layer();
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const probe = tf.randomNormal([3, 3], 0, 1, 'float32', 2);
    const loss = () => tf.sum(tf.mul(tf.square(adapter.forward(x)), probe)) as tf.Scalar;
    for (const parameter of [adapter.loraA, adapter.loraE, adapter.loraB]) {
      const { grads, value } = tf.variableGrads(loss, [parameter.variable]);
      const analytic = grads[parameter.variable.name]!.dataSync()[1]!;
      const original = Float32Array.from(parameter.value.dataSync());
      const at = (delta: number) => {
        const shifted = Float32Array.from(original);
        shifted[1] = original[1]! + delta;
        parameter.assign(tf.tensor(shifted, parameter.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
      parameter.assign(tf.tensor(original, parameter.shape));
      expect(Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric))).toBeLessThan(2e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    adapter.dispose();
  });
});

describe('adalora method', () => {
  it.each([
    // HF PEFT (AdaLoraModel.forward: torch.norm(p="fro")): 0.5 × (‖AᵀA − I‖ + ‖BBᵀ − I‖) / 2 = 0.5 × (3 + 0) / 2.
    { orthNorm: undefined, expected: (0.5 * (3 + 0)) / 2 },
    // The paper's Eq. 4, squared: 0.5 × (9 + 0) / 2.
    { orthNorm: 'squared-frobenius' as const, expected: (0.5 * (9 + 0)) / 2 },
  ])('regularizes toward orthogonal factors: orthRegWeight × mean of ‖AᵀA − I‖ and ‖BBᵀ − I‖ (orthNorm $orthNorm)', ({ orthNorm, expected }) => {
    const model = createConformanceBert();
    const tuned = peft(model, [adalora({ initR: 2, targetR: 1, orthRegWeight: 0.5, targets: { roles: ['attention.query'], layers: [0] }, ...(orthNorm ? { orthNorm } : {}) })]);
    const adapter = model.getModule('encoder.layers.0.attention.query') as AdaLoraLinear;
    // A = [e1, e2 scaled by 2] → AᵀA = diag(1, 4): gap 9. B rows orthonormal → gap 0.
    const a = new Array(16 * 2).fill(0);
    a[0] = 1;
    a[3] = 2;
    adapter.loraA.assign(tf.tensor2d(a, [16, 2]));
    const b = new Array(2 * 16).fill(0);
    b[0] = 1;
    b[16 + 1] = 1;
    adapter.loraB.assign(tf.tensor2d(b, [2, 16]));
    const method = tuned.appliedMethods()[0]!;
    expect(method.regularization!().dataSync()[0]).toBeCloseTo(expected, 5);
    // Finite gradients even where B is exactly orthogonal (the plain norm's kink at 0).
    const { grads, value } = tf.variableGrads(() => method.regularization!(), [adapter.loraA.variable, adapter.loraB.variable]);
    for (const gradient of Object.values(grads)) expect(tf.all(tf.isFinite(gradient)).dataSync()[0]).toBe(1);
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  });

  it("updates importance where HF's update_and_allocate does: after the optimizer step, from the updated weights and the clipped gradients", async () => {
    setGlobalSeed(6);
    // Weights of std 0.3, so that E's gradient is O(1) (the std-0.02 conformance model's is ~1e-5).
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 }) as unknown as ConformanceModel;
    const batch = conformanceBatch(model, { batch: 2, seq: 5 });
    // deltaT 100: no pruning at step 1, so E after the step is the optimizer's result alone.
    const tuned = peft(model, [adalora({ initR: 2, targetR: 1, beta1: 0.85, tinit: 0, tfinal: 0, deltaT: 100, totalSteps: 10, targets: { roles: ['attention.query'], layers: [0] } })]);
    const adapter = model.getModule('encoder.layers.0.attention.query') as AdaLoraLinear;
    let seed = 40;
    for (const parameter of tuned.trainableParameters()) parameter.assign(tf.randomNormal(parameter.shape, 0, 1, 'float32', seed++));
    const method = tuned.appliedMethods()[0]!;
    // The trainer's gradient, computed independently: d(task loss + regularization), then clipped to global norm 0.1.
    const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
    const { grads, value } = tf.variableGrads(() => tf.add(model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask), method.regularization!()) as tf.Scalar, variables);
    const norm = Math.sqrt(Object.values(grads).reduce((sum, gradient) => sum + tf.sum(tf.square(gradient)).dataSync()[0]!, 0));
    expect(norm).toBeGreaterThan(1);
    const gradientE = Array.from(grads[adapter.loraE.variable.name]!.dataSync());
    const before = Array.from(adapter.loraE.value.dataSync());
    await train(tuned, { data: [batch], maxSteps: 1, learningRate: 0.5, schedule: 'constant', maxGradNorm: 0.1 });
    const after = Array.from(adapter.loraE.value.dataSync());
    const clipped = gradientE.map((g) => (g * 0.1) / norm);
    const sensitivity = Array.from(method.state()['encoder.layers.0.attention.query.importance.E.sensitivity']!.dataSync());
    sensitivity.forEach((value, k) => expect(value).toBeCloseTo(0.15 * Math.abs(after[k]! * clipped[k]!), 6));
    // The placement matters: before the step, or unclipped, the numbers differ by ≥ 200× the 5e-7 tolerance above.
    const preStep = before.map((e, k) => 0.15 * Math.abs(e * clipped[k]!));
    const unclipped = after.map((e, k) => 0.15 * Math.abs(e * gradientE[k]!));
    expect(Math.max(...sensitivity.map((v, k) => Math.abs(v - preStep[k]!)))).toBeGreaterThan(1e-4);
    expect(Math.max(...sensitivity.map((v, k) => Math.abs(v - unclipped[k]!)))).toBeGreaterThan(1e-4);
    tf.dispose([value, ...Object.values(grads)]);
    disposeBatch(batch);
    model.dispose();
  });

  it('prunes to the target budget during training and fits a task the frozen model cannot', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [adalora({ initR: 4, targetR: 2, tinit: 10, tfinal: 20, deltaT: 5, orthRegWeight: 0.1 })]);
    await train(tuned, { data: [batch], maxSteps: 100, learningRate: 0.02, schedule: 'constant' });
    tuned.model.eval();
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(lossOf(tuned)).toBeLessThan(0.2);
    // 4 matrices × target 2 = 8 ranks left in all.
    const alive = ['0', '1'].flatMap((layerIndex) => ['query', 'value'].map((name) => model.getModule(`encoder.layers.${layerIndex}.attention.${name}`) as AdaLoraLinear));
    const nonzero = alive.reduce((sum, adapter) => sum + Array.from(adapter.loraE.value.dataSync()).filter((value) => value !== 0).length, 0);
    expect(nonzero).toBeLessThanOrEqual(8);
    expect(nonzero).toBeGreaterThan(0);
    disposeBatch(batch);
    model.dispose();
  });
});
