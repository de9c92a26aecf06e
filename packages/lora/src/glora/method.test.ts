import { Linear, createBert, peft, setGlobalSeed, tf, train, type TaskModel } from '@peftjs/core';
import { conformanceBatch, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { glora } from './method';
import { GloraLinear } from './layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'glora (default: low-rank A and B, vector C, D, E)',
  methods: () => [glora({ r: 2 })],
  invalidConfigs: [
    { method: glora, config: { r: 0 }, field: 'r' },
    { method: glora, config: { a: 'matrix' }, field: 'a' },
    { method: glora, config: { c: 'scalar' }, field: 'c' },
    { method: glora, config: { d: 'lora' }, field: 'd' },
  ],
});

describeConformance({ name: 'glora scalars and vectors on every linear', methods: () => [glora({ a: 'scalar', b: 'vector', c: 'lora', d: 'scalar', e: 'scalar', targets: { roles: ['all-linear'] } })] });

describeConformance({ name: 'glora with the head trained (modulesToSave)', methods: () => [glora({ r: 2, modulesToSave: { roles: ['head'] } })] });

/** Plain-JS reference of Eq. 10 in the [in, out] layout, from the layer's own parameter values. */
function reference(layer: GloraLinear, x: number[][]): number[][] {
  const W = layer.base.weight.value.arraySync() as number[][];
  const b0 = Array.from(layer.base.bias!.value.dataSync());
  const [inSize, outSize] = [W.length, W[0]!.length];
  const read = (name: string) => layer.maybeParameter(name)?.value.arraySync() as number[] | number[][] | undefined;
  const matrix = (term: 'a' | 'b'): ((i: number, j: number) => number) => {
    const down = read(`${term}Down`) as number[][] | undefined;
    if (down) {
      const up = read(`${term}Up`) as number[][];
      return (i, j) => down[i]!.reduce((sum, value, k) => sum + value * up[k]![j]!, 0);
    }
    const own = read(term) as number[] | undefined;
    if (!own) return () => 0;
    return own.length === 1 ? () => own[0]! : (_, j) => own[j]!;
  };
  const vector = (term: 'd' | 'e'): ((j: number) => number) => {
    const own = read(term) as number[] | undefined;
    if (!own) return () => 0;
    return own.length === 1 ? () => own[0]! : (j) => own[j]!;
  };
  const [A, B, D, E] = [matrix('a'), matrix('b'), vector('d'), vector('e')];
  const cDown = read('cDown') as number[][] | undefined;
  const C = cDown ? cDown.map((row) => row.reduce((sum, value, k) => sum + value * (read('cUp') as number[][])[k]![0]!, 0)) : ((read('c') as number[] | undefined) ?? new Array(inSize).fill(0));
  return x.map((row) =>
    Array.from({ length: outSize }, (_, j) => {
      let y = b0[j]! + b0[j]! * D(j) + E(j);
      for (let i = 0; i < inSize; i++) y += C[i]! * W[i]![j]! + row[i]! * (W[i]![j]! + W[i]![j]! * A(i, j) + B(i, j));
      return y;
    }),
  );
}

function randomized(config: Parameters<typeof glora>[0]): GloraLinear {
  setGlobalSeed(8);
  const layer = new GloraLinear(new Linear(6, 5, { initStd: 0.5 }), glora.parseConfig(config));
  let seed = 30;
  for (const [, parameter] of layer.ownNamedParameters()) parameter.assign(tf.randomNormal(parameter.shape, 0, 0.5, 'float32', seed++));
  return layer;
}

describe('GloraLinear', () => {
  it.each([
    { r: 2 },
    { a: 'vector', b: 'scalar', c: 'lora', d: 'scalar', e: 'none' },
    { a: 'none', b: 'none', c: 'none', d: 'none', e: 'vector' },
  ] as const)('matches a plain-JS computation of Eq. 10 (%o), and its merge to 1e-5', (config) => {
    const layer = randomized(config);
    const x = tf.randomNormal([3, 6], 0, 1, 'float32', 4);
    const expected = reference(layer, x.arraySync() as number[][]).flat();
    const ours = Array.from(layer.forward(x).dataSync());
    ours.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 4));
    layer.merge();
    Array.from(layer.forward(x).dataSync()).forEach((value, i) => expect(value).toBeCloseTo(ours[i]!, 5));
    layer.unmerge();
    layer.dispose();
  });

  it("starts low-rank C as the authors' code: Cd [in, r] zero, Cu [r, 1] Kaiming-uniform U(−1, 1) (fan-in 1)", () => {
    setGlobalSeed(3);
    const layer = new GloraLinear(new Linear(64, 5, { initStd: 0.5 }), glora.parseConfig({ r: 8, c: 'lora' }));
    const down = Array.from(layer.parameter('cDown').value.dataSync());
    const up = Array.from(layer.parameter('cUp').value.dataSync());
    expect(layer.parameter('cDown').shape).toEqual([64, 8]);
    expect(down.every((value) => value === 0)).toBe(true);
    expect(up.every((value) => Math.abs(value) <= 1)).toBe(true);
    // A bound of 1/√64 (fan = rows of an [in, r] factor) would keep every entry under 0.125.
    expect(Math.max(...up.map(Math.abs))).toBeGreaterThan(0.3);
    // A and B keep the other orientation: the input-side factor is the random one.
    expect(Array.from(layer.parameter('aDown').value.dataSync()).some((value) => value !== 0)).toBe(true);
    expect(Array.from(layer.parameter('aUp').value.dataSync()).every((value) => value === 0)).toBe(true);
    layer.dispose();
  });

  it('has the gradients of finite differences for every term', () => {
    const layer = randomized({ r: 2, c: 'lora' });
    const x = tf.randomNormal([3, 6], 0, 1, 'float32', 5);
    const probe = tf.randomNormal([3, 5], 0, 1, 'float32', 6);
    const loss = () => tf.sum(tf.mul(tf.square(layer.forward(x)), probe)) as tf.Scalar;
    const parameters = layer.ownNamedParameters();
    const { grads } = tf.variableGrads(loss, parameters.map(([, parameter]) => parameter.variable));
    for (const [name, parameter] of parameters) {
      const analytic = grads[parameter.variable.name]!.dataSync();
      const base = Float32Array.from(parameter.value.dataSync());
      const at = (delta: number) => {
        const shifted = Float32Array.from(base);
        shifted[0] = base[0]! + delta;
        parameter.assign(tf.tensor(shifted, parameter.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
      parameter.assign(tf.tensor(base, parameter.shape));
      expect(analytic[0], name).toBeCloseTo(numeric, 1);
      expect(Math.abs(analytic[0]! - numeric) / Math.max(1, Math.abs(numeric)), name).toBeLessThan(2e-2);
    }
    layer.dispose();
  });

  it('fits a task the frozen model cannot: loss from chance to near zero', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [glora({ r: 2 })]);
    await train(tuned, { data: [batch], maxSteps: 80, learningRate: 0.02, schedule: 'constant' });
    tuned.model.eval();
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(lossOf(tuned)).toBeLessThan(0.2);
    disposeBatch(batch);
    model.dispose();
  });
});
