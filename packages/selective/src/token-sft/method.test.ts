import { Module, Parameter, definePeftMethod, peft, tf, z, type AppliedMethod, type Linear } from '@peftjs/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tokenSft } from './method';
import { gradientsOf, installedRunner, lossOf, paddedBatch, referenceLoss, tinyBert } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const disposables: Array<{ dispose(): void }> = [];
afterEach(() => disposables.splice(0).forEach((item) => item.dispose()));

/**
 * Same keys, and every gradient within tolerance of the reference. The comparison only means
 * something for gradients far above the tolerance: all must be, except the attention key biases
 * of full fine-tuning (softmax ignores a shift shared by every key, so their true gradient is 0;
 * one per layer of the 2-layer test model).
 */
function expectSameGradients(actual: Record<string, tf.Tensor>, expected: Record<string, tf.Tensor>, tolerance = 1e-5): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  let tooSmall = 0;
  for (const [name, gradient] of Object.entries(expected)) {
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(actual[name]!, gradient))).dataSync()[0]!);
    const scale = tf.tidy(() => tf.max(tf.abs(gradient)).dataSync()[0]!);
    if (scale < 50 * tolerance) tooSmall++;
    expect(difference, name).toBeLessThanOrEqual(tolerance * Math.max(1, scale));
  }
  expect(tooSmall, 'gradients too small to compare').toBeLessThanOrEqual(2);
  tf.dispose([...Object.values(actual), ...Object.values(expected)]);
}

/** A test-only additive method: h + (x·A)·B beside every query projection (LoRA-shaped, both factors random so both get gradient). */
class LowRankBeside extends Module<[tf.Tensor], tf.Tensor> {
  constructor(readonly base: Linear, seed: number) {
    super();
    this.registerModule('base', base);
    this.registerParameter('down', new Parameter(tf.randomNormal([base.inFeatures, 2], 0, 0.3, 'float32', seed), { trainable: true, kind: 'adapter' }));
    this.registerParameter('up', new Parameter(tf.randomNormal([2, base.outFeatures], 0, 0.3, 'float32', seed + 1), { trainable: true, kind: 'adapter' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(this.child('base').forward(x), tf.matMul(tf.matMul(x.reshape([-1, this.base.inFeatures]), this.parameter('down').value), this.parameter('up').value).reshape([...x.shape.slice(0, -1), this.base.outFeatures])));
  }
}

const lowRankBeside = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/low-rank-beside',
  packageName: 'test',
  kind: 'additive',
  configSchema: z.strictObject({}),
  apply(model): AppliedMethod {
    const paths = model.namedModules().flatMap(([path]) => (path.endsWith('attention.query') ? [path] : []));
    const wrappers = paths.map((path, i) => model.replaceModule(path, (current) => new LowRankBeside(current as Linear, 10 + 2 * i)));
    return {
      name: 'test/low-rank-beside',
      claims: paths.map((path) => ({ kind: 'wrap' as const, path })),
      parameters: () => wrappers.flatMap((wrapper) => [wrapper.parameter('down'), wrapper.parameter('up')]),
      state: () => ({}),
      load: () => undefined,
    };
  },
});

describe('token-sft gradients', () => {
  it('equal an explicit full forward with the unselected rows (and their keys/values) detached, padding included', () => {
    const model = tinyBert();
    const tuned = peft(model, [tokenSft({ k: 4, seed: 5 })]);
    const batch = paddedBatch([10, 7, 5], 10);
    model.train();
    const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
    const sft = gradientsOf(() => lossOf(tuned, batch), variables);
    const positions = installedRunner(model).state.positions!;
    expect(positions.map((row) => row.length)).toEqual([4, 4, 4]);
    const reference = gradientsOf(() => referenceLoss(model, batch, positions), variables);
    // Every trained tensor outside the embeddings gets a gradient, and it is the reference's.
    expect(Object.keys(sft).length).toBe(variables.length);
    expectSameGradients(sft, reference);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });

  it('select k positions per sequence on a batch of mixed lengths (all tokens of the shorter ones) and equal the reference', () => {
    const model = tinyBert({ seed: 13 });
    const tuned = peft(model, [tokenSft({ k: 5, seed: 3 })]);
    const lengths = [12, 9, 2, 4];
    const batch = paddedBatch(lengths, 12, 6);
    model.train();
    const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
    const sft = gradientsOf(() => lossOf(tuned, batch), variables);
    const positions = installedRunner(model).state.positions!;
    // Checked independently of the runner: min(k, length) distinct real positions per row, [CLS] first.
    expect(positions.map((row) => row.length)).toEqual([5, 5, 2, 4]);
    positions.forEach((row, b) => {
      expect(row[0]).toBe(0);
      expect(new Set(row).size).toBe(row.length);
      expect(row.every((position) => position < lengths[b]!)).toBe(true);
    });
    expect(positions[2]).toEqual([0, 1]);
    expect(positions[3]).toEqual([0, 1, 2, 3]);
    const reference = gradientsOf(() => referenceLoss(model, batch, positions), variables);
    expect(Object.keys(sft).length).toBe(variables.length);
    expectSameGradients(sft, reference);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });

  it('carry no gradient through padding, even through the filler slots of a short sequence when a loss reads them', () => {
    // Two identical models draw the same positions on their first step: one loss reads every
    // position of the last layer, the other only the real ones.
    const weights = tf.randomNormal([2, 8, 16], 0, 1, 'float32', 4);
    const batch = paddedBatch([8, 2], 8, 2);
    const real = batch.attentionMask!.toFloat().expandDims(2);
    const gradientsWhenReading = (readPadding: boolean): Record<string, tf.Tensor> => {
      const model = tinyBert({ seed: 17 });
      const tuned = peft(model, [tokenSft({ k: 4, seed: 1, pooling: 'cls' })]);
      model.train();
      const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
      const grads = gradientsOf(() => tf.tidy(() => tf.sum(tf.mul(tuned.forward(batch).lastHiddenState, readPadding ? weights : tf.mul(weights, real)))), variables);
      // Row 1 selects its 2 real tokens and fills 2 slots with padding positions.
      expect(installedRunner(model).state.positions!.map((row) => row.length)).toEqual([4, 2]);
      disposables.push(model);
      // Keyed by the variable's index (the two models' variables have different names).
      return Object.fromEntries(variables.flatMap((variable, i) => (grads[variable.name] ? [[String(i), grads[variable.name]!]] : [])));
    };
    const everyPosition = gradientsWhenReading(true);
    const realOnly = gradientsWhenReading(false);
    expectSameGradients(everyPosition, realOnly);
    disposables.push({ dispose: () => tf.dispose([weights, real, ...Object.values(batch)]) });
  });

  it('equal the reference on a pre-LN encoder (final LayerNorm included)', () => {
    const model = tinyBert({ preLayerNorm: true, seed: 41 });
    const tuned = peft(model, [tokenSft({ k: 3, seed: 7 })]);
    const batch = paddedBatch([8, 6], 8, 5);
    model.train();
    const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
    const sft = gradientsOf(() => lossOf(tuned, batch), variables);
    const reference = gradientsOf(() => referenceLoss(model, batch, installedRunner(model).state.positions!), variables);
    expect(Object.keys(sft).length).toBe(variables.length);
    expectSameGradients(sft, reference);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });

  it('with k = sequence length equal full fine-tuning with mean pooling', () => {
    const model = tinyBert({ seed: 21 });
    const tuned = peft(model, [tokenSft({ k: 8 })]);
    const batch = paddedBatch([8, 8], 8, 9);
    model.train();
    const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
    const sft = gradientsOf(() => lossOf(tuned, batch), variables);
    // Full fine-tuning: the plain tape over every layer (the eval-mode runner is the plain loop, and
    // with dropout off eval and train compute the same), mean over all positions.
    model.eval();
    const full = gradientsOf(() => lossOf(tuned, batch), variables);
    expectSameGradients(sft, full);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });

  it("composes with an additive method: trainParameters 'none' trains only the adapter, with the reference's gradients", () => {
    const model = tinyBert({ seed: 31 });
    const tuned = peft(model, [lowRankBeside(), tokenSft({ k: 3, seed: 2, trainParameters: 'none' })]);
    expect(tuned.trainableParameters().every((parameter) => parameter.kind === 'adapter')).toBe(true);
    expect(tuned.trainableParameters()).toHaveLength(4);
    const batch = paddedBatch([9, 6], 9, 4);
    model.train();
    const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
    const sft = gradientsOf(() => lossOf(tuned, batch), variables);
    const reference = gradientsOf(() => referenceLoss(model, batch, installedRunner(model).state.positions!), variables);
    expectSameGradients(sft, reference);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });
});

describe('token-sft method', () => {
  it("trains every parameter but the embeddings by default, and the embeddings with trainEmbeddings", () => {
    const model = tinyBert();
    const tuned = peft(model, [tokenSft()]);
    const trained = new Set(tuned.trainableParameters());
    for (const [path, parameter] of model.namedParameters()) expect(trained.has(parameter), path).toBe(!path.startsWith('embeddings.'));
    model.dispose();
    const withEmbeddings = tinyBert();
    expect(peft(withEmbeddings, [tokenSft({ trainEmbeddings: true })]).trainableParameters()).toHaveLength(withEmbeddings.parameters().length);
    withEmbeddings.dispose();
  });

  it('leaves every training-mode output value unchanged versus the plain loop (only gradient flow changes), filler slots included', () => {
    const model = tinyBert();
    const batch = paddedBatch([6, 4, 2], 6);
    model.train();
    const plain = tf.tidy(() => model.forward({ ...batch, outputHiddenStates: true }).hiddenStates!.map((h) => h.arraySync()));
    const tuned = peft(model, [tokenSft({ k: 3, pooling: 'cls' })]);
    const sftOutput = tuned.forward({ ...batch, outputHiddenStates: true });
    expect(sftOutput.hiddenStates).toHaveLength(3);
    sftOutput.hiddenStates!.forEach((h, i) => expectCloseNested(h.arraySync(), plain[i]));
    tf.dispose(sftOutput as unknown as tf.TensorContainer);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });

  it('pools the mean of all real last-layer states in eval (Eq. 1), through the pretrained dense + tanh', () => {
    const model = tinyBert();
    const batch = paddedBatch([6, 4], 6);
    const tuned = peft(model, [tokenSft()]);
    model.eval();
    const output = tuned.forward(batch);
    const expected = tf.tidy(() => {
      const mask = batch.attentionMask!.toFloat().expandDims(2);
      const mean = tf.div(tf.sum(tf.mul(output.lastHiddenState, mask), 1), tf.sum(mask, 1));
      return model.getModule('head').forward(tf.tanh(model.getModule('pooler.dense').forward(mean))).arraySync();
    });
    expectCloseNested(output.logits.arraySync(), expected);
    tf.dispose(output as unknown as tf.TensorContainer);
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });

  it('removes cleanly: the plain runner and the base pooler come back', () => {
    const model = tinyBert();
    const runner = model.layerRunner;
    const pooler = model.getModule('pooler');
    const tuned = peft(model, [tokenSft()]);
    expect(model.getModule('pooler')).not.toBe(pooler);
    expect(model.getParameter('pooler.dense.weight')).toBe(pooler.getParameter('dense.weight'));
    tuned.appliedMethods()[0]!.remove!();
    expect(model.layerRunner).toBe(runner);
    expect(model.getModule('pooler')).toBe(pooler);
    model.dispose();
  });

  it('rejects invalid configs and unsupported models with typed errors', () => {
    expect(() => tokenSft({ k: 0 })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => tokenSft({ trainParameters: 'some' as 'all' })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    const model = tinyBert();
    model.replaceModule('encoder.layers.0.attention', (current) => new (class Wrapped extends Module<any, any> {
      constructor() {
        super();
        this.registerModule('inner', current);
      }
      forward(x: tf.Tensor, context: unknown): tf.Tensor {
        return this.child('inner').forward(x, context) as tf.Tensor;
      }
    })());
    const tuned = peft(model, [tokenSft({ k: 2 })]);
    const batch = paddedBatch([4], 4);
    model.train();
    expect(() => lossOf(tuned, batch)).toThrow(expect.objectContaining({ code: 'not-implemented' }));
    disposables.push(model, { dispose: () => tf.dispose(Object.values(batch)) });
  });
});

function expectCloseNested(actual: unknown, expected: unknown, tolerance = 1e-5): void {
  const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
  const a = flat(actual);
  const b = flat(expected);
  expect(a.length).toBe(b.length);
  a.forEach((value, i) => expect(Math.abs(value - b[i]!)).toBeLessThanOrEqual(tolerance));
}
