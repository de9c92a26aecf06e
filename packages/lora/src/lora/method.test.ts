import { createBert, createGpt, createRegistry, defaultRegistry, peft, setGlobalSeed, tf, type Batch, type Linear } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraEmbedding } from './embedding-layer';
import { LoraLinear } from './layer';
import { lora, loraMethod } from './method';
import { TrainableCopyLinear } from './trainable-copy-linear';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const createConformanceGpt = (): ConformanceModel => {
  setGlobalSeed(4321);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0 }) as unknown as ConformanceModel;
};

describeConformance({
  name: 'lora (default targets: query, value)',
  methods: () => [lora({ r: 4, alpha: 8 })],
  invalidConfigs: [
    { method: lora, config: { r: 0 }, field: 'r' },
    { method: lora, config: { alpha: -1 }, field: 'alpha' },
    { method: lora, config: { init: 'orthogonal' }, field: 'init' },
    { method: lora, config: { dropout: 1 }, field: 'dropout' },
    { method: lora, config: { rankPattern: { query: 0 } }, field: 'rankPattern' },
    { method: lora, config: { alphaPattern: { 'query(': 2 } }, field: 'alphaPattern' },
  ],
});

describeConformance({
  name: 'lora all-linear with rsLoRA and dropout',
  methods: () => [lora({ r: 2, alpha: 4, useRslora: true, dropout: 0.1, targets: { roles: ['all-linear'] } })],
});

describeConformance({
  name: 'lora on GPT-2 fused qkv and the MLP',
  createModel: createConformanceGpt,
  methods: () => [lora({ r: 2, alpha: 4, targets: { roles: ['attention.qkv', 'ffn.up'] } })],
});

describeConformance({
  name: 'lora with the task head trained in full (modulesToSave)',
  methods: () => [lora({ r: 2, modulesToSave: { roles: ['head'] } })],
});

describeConformance({
  name: 'DoRA (lora with useDora) on query and value',
  methods: () => [lora({ r: 2, alpha: 4, useDora: true })],
});

describeConformance({
  name: 'DoRA on GPT-2 fused qkv with rsLoRA',
  createModel: createConformanceGpt,
  methods: () => [lora({ r: 2, alpha: 4, useDora: true, useRslora: true, targets: { roles: ['attention.qkv'] } })],
});

describeConformance({
  name: 'lora on the token embeddings and all linears',
  methods: () => [lora({ r: 2, targets: { roles: ['embedding.token', 'all-linear'] } })],
  // A = 0 at init for embeddings: move it too, so the checks see the embedding update.
  perturb: (model) => {
    for (const parameter of model.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.1, 'float32', 17))));
  },
});

describeConformance({
  name: 'lora twice on the same modules (wrapper of wrapper)',
  methods: () => [lora({ r: 2 }), lora({ r: 3, targets: { roles: ['attention.value'] } })],
});

const parameterCount = (parameters: ReadonlyArray<{ size: number }>) => parameters.reduce((total, p) => total + p.size, 0);

describe('lora method', () => {
  it('trains r·(in + out) parameters per target: r = 8 on query and value of the conformance BERT', () => {
    const model = createConformanceBert();
    const total = parameterCount(model.parameters());
    const tuned = peft(model, [lora({ r: 8 })]);
    const trainable = parameterCount(tuned.trainableParameters());
    // 2 layers × 2 targets × 8 × (16 + 16).
    expect(trainable).toBe(2 * 2 * 8 * 32);
    expect(tuned.model.getModule('encoder.layers.1.attention.value')).toBeInstanceOf(LoraLinear);
    expect(tuned.model.getModule('encoder.layers.1.attention.key')).not.toBeInstanceOf(LoraLinear);
    console.info(`LoRA r=8 q,v on the conformance BERT: ${trainable} trainable of ${total} base parameters (${((100 * trainable) / total).toFixed(2)}%).`);
    model.dispose();
  });

  it('applies rankPattern and alphaPattern per target (HF semantics: dot-bounded suffix or ^-anchored regex)', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [
      lora({
        r: 4,
        alpha: 8,
        targets: { roles: ['attention.query', 'attention.value', 'ffn.up'] },
        rankPattern: { 'layers.0.attention.query': 2, '^encoder\\.layers\\.1\\.ffn\\.up': 6, 'intermediate.dense': 5 },
        alphaPattern: { value: 3 },
      }),
    ]);
    const layer = (path: string) => tuned.model.getModule<LoraLinear>(path);
    expect(layer('encoder.layers.0.attention.query').r).toBe(2);
    expect(layer('encoder.layers.1.attention.query').r).toBe(4);
    expect(layer('encoder.layers.1.ffn.up').r).toBe(6);
    // Matched through the HF module name (bert.encoder.layer.0.intermediate.dense).
    expect(layer('encoder.layers.0.ffn.up').r).toBe(5);
    expect(layer('encoder.layers.0.attention.value').alpha).toBe(3);
    expect(layer('encoder.layers.0.attention.value').scaling).toBeCloseTo(3 / 4, 12);
    expect(layer('encoder.layers.0.attention.query').scaling).toBeCloseTo(8 / 2, 12);
    // query: 2·32 + 4·32; value: 2 · 4·32; ffn.up (16 -> 32): 5·48 + 6·48.
    expect(parameterCount(tuned.trainableParameters())).toBe(2 * 32 + 4 * 32 + 2 * 4 * 32 + 5 * 48 + 6 * 48);
    model.dispose();
  });

  it('trains a copy of the head with modulesToSave, leaving the original frozen underneath', () => {
    const model = createConformanceBert();
    const original = model.getModule<Linear>('head.classifier');
    const before = original.weight.value.dataSync().slice();
    const tuned = peft(model, [lora({ r: 2, modulesToSave: { roles: ['head'] } })]);
    const copy = tuned.model.getModule<TrainableCopyLinear>('head.classifier');
    expect(copy).toBeInstanceOf(TrainableCopyLinear);
    expect(copy.base).toBe(original);
    // Four LoRA targets of 2·(16 + 16), plus the head's 16·3 weight and 3 biases.
    expect(parameterCount(tuned.trainableParameters())).toBe(4 * 64 + 16 * 3 + 3);
    expect(original.weight.trainable).toBe(false);
    copy.adapter('default').parameters.get('weight').assign(tf.zerosLike(original.weight.value));
    tuned.merge();
    expect(Math.max(...original.weight.value.dataSync().map(Math.abs))).toBe(0);
    tuned.unmerge();
    expect(Array.from(original.weight.value.dataSync())).toEqual(Array.from(before));
    model.dispose();
  });

  it('adds one magnitude per output channel with DoRA', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [lora({ r: 8, useDora: true })]);
    expect(parameterCount(tuned.trainableParameters())).toBe(2 * 2 * (8 * 32 + 16));
    expect(Object.keys(tuned.appliedMethods()[0]!.state())).toContain('encoder.layers.0.attention.query.loraMagnitude');
    model.dispose();
  });

  it('wraps GPT-2 token embeddings while the tied LM head keeps reading the frozen table', () => {
    const model = createConformanceGpt();
    model.eval();
    const batch = conformanceBatch(model);
    const before = tf.tidy(() => model.forward(batch).logits.dataSync());
    const tuned = peft(model, [lora({ r: 2, targets: { roles: ['embedding.token'] } })]);
    const word = tuned.model.getModule<LoraEmbedding>('embeddings.word');
    expect(word).toBeInstanceOf(LoraEmbedding);
    expect(parameterCount(tuned.trainableParameters())).toBe(2 * (50 + 16));
    const after = tf.tidy(() => tuned.forward(batch).logits.dataSync());
    after.forEach((value, i) => expect(value).toBeCloseTo(before[i]!, 5));
    disposeBatch(batch);
    model.dispose();
  });

  it('rejects DoRA on an embedding target', () => {
    const model = createConformanceBert();
    expect(() => peft(model, [lora({ useDora: true, targets: { roles: ['embedding.token'] } })])).toThrowError(expect.objectContaining({ code: 'not-implemented' }));
    model.dispose();
  });

  it('leaves the model as it was when a target fails half-way (DoRA over an existing LoRA wrapper)', () => {
    const model = createConformanceBert();
    const before = model.namedModules();
    const methods = [lora({ targets: { paths: ['encoder.layers.1.attention.query'] } }), lora({ useDora: true, targets: { roles: ['all-linear'] } })];
    // Layer 0's linears are wrapped first; layer 1's query is a LoraLinear, which DoRA cannot decompose.
    expect(() => peft(model, methods)).toThrowError(expect.objectContaining({ code: 'not-implemented' }));
    expect(model.namedModules()).toEqual(before);
    model.dispose();
  });

  it('wraps GPT-2 fused qkv as one Linear [hidden, 3·hidden]', () => {
    const model = createConformanceGpt();
    const tuned = peft(model, [lora({ r: 2, targets: { roles: ['attention.qkv'] } })]);
    const qkv = tuned.model.getModule<LoraLinear>('decoder.layers.0.attention.qkv');
    expect(qkv).toBeInstanceOf(LoraLinear);
    expect(qkv.loraA.shape).toEqual([16, 2]);
    expect(qkv.loraB.shape).toEqual([2, 48]);
    model.dispose();
  });

  it('names what exists when the targets match nothing', () => {
    const model = createConformanceBert();
    expect(() => peft(model, [lora({ targets: { roles: ['attention.qkv'] } })])).toThrowError(expect.objectContaining({ code: 'selector-no-match' }));
    expect(() => peft(model, [lora({ targets: { roles: ['norm.attention'] } })])).toThrowError(expect.objectContaining({ code: 'selector-no-match', field: 'targets' }));
    model.dispose();
  });

  it('remove() puts the original Linear modules back', () => {
    const model = createConformanceBert();
    const original = model.getModule('encoder.layers.0.attention.query');
    const tuned = peft(model, [lora({ r: 2 }), lora({ r: 2, targets: { roles: ['attention.key'] } })]);
    tuned.addAdapter('second', [lora({ r: 3 })]);
    tuned.deleteAdapter('second');
    const wrapped = tuned.model.getModule<LoraLinear>('encoder.layers.0.attention.query');
    expect(wrapped.r).toBe(2);
    for (const applied of [...tuned.appliedMethods()].reverse()) applied.remove!();
    expect(model.getModule('encoder.layers.0.attention.query')).toBe(original);
    expect(model.namedModules().some(([, module]) => module instanceof LoraLinear)).toBe(false);
    model.dispose();
  });

  it('rejects state with missing, unexpected or mis-shaped keys', () => {
    const model = createConformanceBert();
    const [applied] = peft(model, [lora({ r: 2 })]).appliedMethods();
    const state = applied!.state();
    const key = 'encoder.layers.0.attention.query.loraA';
    const { [key]: dropped, ...missing } = state;
    expect(dropped).toBeDefined();
    expect(() => applied!.load(missing)).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    expect(() => applied!.load({ ...state, 'encoder.layers.0.attention.key.loraA': state[key]! })).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    const wrong = tf.zeros([2, 16]);
    expect(() => applied!.load({ ...state, [key]: wrong })).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    wrong.dispose();
    model.dispose();
  });

  it('fits a task the frozen model cannot: random labels over 3 classes', () => {
    const makeBase = () => {
      setGlobalSeed(5);
      return createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 });
    };
    const model = makeBase();
    model.eval();
    const batch: Batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 8, seed: 11 });
    const frozenLoss = tf.tidy(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const tuned = peft(model, [lora({ r: 4, alpha: 8, targets: { roles: ['all-linear'] } })]);
    const optimizer = tf.train.adam(0.02);
    const variables = tuned.trainableParameters().map((p) => p.variable);
    let loss = frozenLoss;
    for (let step = 0; step < 60; step++) {
      const cost = optimizer.minimize(() => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask), true, variables)!;
      loss = cost.dataSync()[0]!;
      cost.dispose();
    }
    optimizer.dispose();
    console.info(`LoRA fit: frozen loss ${frozenLoss.toFixed(3)} -> ${loss.toFixed(4)} after 60 Adam steps.`);
    expect(frozenLoss).toBeGreaterThan(0.9);
    // Eight random labels over three classes: the frozen model is at chance (ln 3 ≈ 1.1 or worse); LoRA reaches ≈ 0.09 here.
    expect(loss).toBeLessThan(0.25);
    disposeBatch(batch);
    model.dispose();
  });

  it('registers itself into the default registry through the register entry', async () => {
    await import('../register');
    expect(defaultRegistry.get('lora')).toBe(loraMethod);
    expect(createRegistry([loraMethod]).list().some((method) => method.hf?.peftType === 'LORA')).toBe(true);
  });
});
