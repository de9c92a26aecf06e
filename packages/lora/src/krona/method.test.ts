import { createBert, createGpt, createRegistry, defaultRegistry, peft, setGlobalSeed, tf, type Batch } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { lora } from '../lora/method';
import { KronaLinear } from './layer';
import { krona, kronaMethod } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({ name: 'krona with the head trained (modulesToSave)', methods: () => [krona({ modulesToSave: { roles: ['head'] } })] });

describeConformance({
  name: 'krona (default targets: query, value; most square factors)',
  methods: () => [krona()],
  invalidConfigs: [
    { method: krona, config: { inFactor: 0 }, field: 'inFactor' },
    { method: krona, config: { outFactor: 2.5 }, field: 'outFactor' },
    { method: krona, config: { scale: 0 }, field: 'scale' },
    { method: krona, config: { rank: 4 }, field: 'rank' },
  ],
});

describeConformance({
  name: 'krona all-linear with explicit factors and scale',
  methods: () => [krona({ inFactor: 2, outFactor: 8, scale: 2, targets: { roles: ['all-linear'] } })],
});

describeConformance({
  name: 'krona on GPT-2 fused qkv',
  createModel: () => {
    setGlobalSeed(4321);
    return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0 }) as unknown as ConformanceModel;
  },
  methods: () => [krona({ targets: { roles: ['attention.qkv'] } })],
});

describeConformance({
  name: 'lora then krona on the same modules (quantity-preserving wrapper chain)',
  methods: () => [lora({ r: 2 }), krona()],
});

const parameterCount = (parameters: ReadonlyArray<{ size: number }>) => parameters.reduce((total, p) => total + p.size, 0);

describe('krona method', () => {
  it('trains a1·a2 + b1·b2 parameters per target', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [krona({ targets: { roles: ['attention.query', 'ffn.up'] } })]);
    // query 16 -> 16: A [4, 4], B [4, 4]; ffn.up 16 -> 32 (most square: 32 = 4·8): A [4, 4], B [4, 8]; two layers.
    expect(parameterCount(tuned.trainableParameters())).toBe(2 * (16 + 16) + 2 * (16 + 32));
    const up = tuned.model.getModule<KronaLinear>('encoder.layers.0.ffn.up');
    expect(up).toBeInstanceOf(KronaLinear);
    expect(up.bShape).toEqual([4, 8]);
    model.dispose();
  });

  it('rejects a factor that does not divide a target and leaves the model as it was', () => {
    const model = createConformanceBert();
    const before = model.namedModules();
    // 16 is divisible by 8 (the query wraps first), the head's 3 outputs are not.
    expect(() => peft(model, [krona({ outFactor: 8, targets: { paths: ['encoder.layers.0.attention.query', 'head.classifier'] } })])).toThrowError(expect.objectContaining({ code: 'invalid-argument', field: 'outFactor' }));
    expect(model.namedModules()).toEqual(before);
    expect(() => peft(model, [krona({ targets: { roles: ['norm.attention'] } })])).toThrowError(expect.objectContaining({ code: 'selector-no-match' }));
    model.dispose();
  });

  it('remove() puts the original Linear modules back', () => {
    const model = createConformanceBert();
    const original = model.getModule('encoder.layers.0.attention.query');
    const tuned = peft(model, [krona()]);
    expect(tuned.model.getModule('encoder.layers.0.attention.query')).toBeInstanceOf(KronaLinear);
    for (const applied of [...tuned.appliedMethods()].reverse()) applied.remove!();
    expect(model.getModule('encoder.layers.0.attention.query')).toBe(original);
    model.dispose();
  });

  it('rejects state with missing or mis-shaped keys', () => {
    const model = createConformanceBert();
    const [applied] = peft(model, [krona()]).appliedMethods();
    const state = applied!.state();
    const key = 'encoder.layers.0.attention.query.kronaB';
    const { [key]: dropped, ...missing } = state;
    expect(dropped).toBeDefined();
    expect(() => applied!.load(missing)).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    const wrong = tf.zeros([2, 8]);
    expect(() => applied!.load({ ...state, [key]: wrong })).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    wrong.dispose();
    model.dispose();
  });

  it('fits a task the frozen model cannot: random labels over 3 classes', () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 });
    model.eval();
    const batch: Batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 8, seed: 11 });
    const frozenLoss = tf.tidy(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const tuned = peft(model, [krona({ targets: { roles: ['all-linear'] } })]);
    const optimizer = tf.train.adam(0.02);
    const variables = tuned.trainableParameters().map((p) => p.variable);
    let loss = frozenLoss;
    for (let step = 0; step < 60; step++) {
      const cost = optimizer.minimize(() => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask), true, variables)!;
      loss = cost.dataSync()[0]!;
      cost.dispose();
    }
    optimizer.dispose();
    console.info(`KronA fit: frozen loss ${frozenLoss.toFixed(3)} -> ${loss.toFixed(4)} after 60 Adam steps (${parameterCount(tuned.trainableParameters())} trainable).`);
    expect(frozenLoss).toBeGreaterThan(0.9);
    expect(loss).toBeLessThan(0.25);
    disposeBatch(batch);
    model.dispose();
  });

  it('registers itself into the default registry through the register entry', async () => {
    await import('../register');
    expect(defaultRegistry.get('krona')).toBe(kronaMethod);
    expect(createRegistry([kronaMethod]).get('krona')).toBe(kronaMethod);
  });
});
