import { createBert, createGpt, createRegistry, loadPeft, loadSafetensors, peft, PeftError, saveSafetensors, setGlobalSeed, tf, type Embedding, type Linear } from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear } from './layer';
import { lora, loraMethod } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/**
 * The conformance BERT (same sizes, seed and SEQ_CLS head) with weights of std 0.3 instead of 0.02,
 * so that an adapter moves the logits far beyond the test tolerance.
 */
function createTestBert(): ConformanceModel {
  setGlobalSeed(1234);
  return createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3, initStd: 0.3 }) as unknown as ConformanceModel;
}

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lora-hf-'));
  dirs.push(dir);
  return dir;
}

const registry = createRegistry([loraMethod]);

const createTinyGpt = (): ConformanceModel => {
  setGlobalSeed(77);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0 }) as unknown as ConformanceModel;
};

/** A known lora_A [r, in], as HF stores it (nn.Linear(in, r).weight). */
function knownA(r: number, inFeatures: number, salt: number): number[][] {
  return Array.from({ length: r }, (_, k) => Array.from({ length: inFeatures }, (_, i) => 0.5 * Math.sin(1 + salt + 3 * k + 0.7 * i)));
}

/** A known lora_B [out, r], as HF stores it (nn.Linear(r, out).weight). */
function knownB(outFeatures: number, r: number, salt: number): number[][] {
  return Array.from({ length: outFeatures }, (_, j) => Array.from({ length: r }, (_, k) => Math.cos(salt + 2 * j + 0.5 * k)));
}

/** Our Linear weight [in, out] plus scale·(B·A)ᵀ, computed entry by entry. */
function addUpdateByHand(linear: Linear, a: number[][], b: number[][], scale: number): void {
  const w = linear.weight.value.arraySync() as number[][];
  const updated = w.map((row, i) => row.map((value, j) => value + scale * b[j]!.reduce((sum, bjk, k) => sum + bjk * a[k]![i]!, 0)));
  linear.weight.assign(tf.tensor2d(updated));
}

function logits(model: { forward(batch: ReturnType<typeof conformanceBatch>): { logits: tf.Tensor } }, batch: ReturnType<typeof conformanceBatch>): Float32Array {
  return tf.tidy(() => model.forward(batch).logits.dataSync() as Float32Array);
}

const TOLERANCE = 1e-5;

function maxDifference(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let max = 0;
  actual.forEach((value, i) => (max = Math.max(max, Math.abs(value - expected[i]!))));
  return max;
}

function expectClose(actual: Float32Array, expected: Float32Array, tolerance = TOLERANCE): void {
  expect(maxDifference(actual, expected)).toBeLessThanOrEqual(tolerance);
}

/**
 * A "loads correctly" check means something only if the adapter moves the outputs: the expected
 * logits must differ from the plain model's by at least 100× the tolerance (a loader that ignored
 * the file would then fail).
 */
function expectMovedFromBase(expected: Float32Array, createBase: () => ConformanceModel, batch: ReturnType<typeof conformanceBatch>): void {
  const base = createBase();
  base.eval();
  expect(maxDifference(expected, logits(base, batch))).toBeGreaterThan(100 * TOLERANCE);
  base.dispose();
}

interface FixtureEntry {
  /** HF module name, as transformers names the module (modeling_bert.py / modeling_gpt2.py). */
  hfName: string;
  /** Our module path, for the by-hand reference. */
  path: string;
  r: number;
  inFeatures: number;
  outFeatures: number;
}

/**
 * Writes an adapter exactly as HF PEFT lays it out: keys `base_model.model.<module>.lora_A.weight`
 * and `.lora_B.weight` (PeftModel.base_model is the LoraModel, whose `.model` is the transformers
 * model; `get_peft_model_state_dict` removes the adapter name from `lora_A.default.weight`), lora_A
 * [r, in] and lora_B [out, r] (both nn.Linear weights, [out_features, in_features]).
 */
async function writeHfFixture(dir: string, config: Record<string, unknown>, entries: readonly FixtureEntry[], extra: Record<string, tf.Tensor> = {}) {
  const tensors: Record<string, tf.Tensor> = { ...extra };
  const known = entries.map((entry, n) => ({ ...entry, a: knownA(entry.r, entry.inFeatures, n), b: knownB(entry.outFeatures, entry.r, n) }));
  for (const entry of known) {
    tensors[`base_model.model.${entry.hfName}.lora_A.weight`] = tf.tensor2d(entry.a);
    tensors[`base_model.model.${entry.hfName}.lora_B.weight`] = tf.tensor2d(entry.b);
  }
  await saveSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  tf.dispose(Object.values(tensors));
  await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  return known;
}

/** HF PEFT LoraConfig fields as `save_pretrained` writes them (peft/tuners/lora/config.py). */
const HF_BERT_CONFIG = {
  alpha_pattern: {},
  base_model_name_or_path: null,
  bias: 'none',
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  layers_pattern: null,
  layers_to_transform: null,
  lora_alpha: 4,
  lora_dropout: 0.1,
  modules_to_save: null,
  peft_type: 'LORA',
  r: 2,
  rank_pattern: {},
  revision: null,
  target_modules: ['query', 'value'],
  task_type: 'SEQ_CLS',
  use_dora: false,
  use_rslora: false,
};

const BERT_ENTRIES: FixtureEntry[] = [0, 1].flatMap((layer) =>
  (['query', 'value'] as const).map((name) => ({
    hfName: `bert.encoder.layer.${layer}.attention.self.${name}`,
    path: `encoder.layers.${layer}.attention.${name}`,
    r: 2,
    inFeatures: 16,
    outFeatures: 16,
  })),
);

describe('LoRA in HF PEFT format', () => {
  it('loads an HF PEFT BERT adapter: outputs equal W + (α/r)·(B·A)ᵀ computed by hand', async () => {
    const dir = await tempDir();
    const known = await writeHfFixture(dir, HF_BERT_CONFIG, BERT_ENTRIES);
    const reference = createTestBert();
    reference.eval();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry.a, entry.b, 4 / 2);
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    loaded.model.eval();
    expect(loaded.model.getModule<LoraLinear>('encoder.layers.1.attention.value').scaling).toBe(2);
    expect(loaded.model.getModule('encoder.layers.1.attention.key')).not.toBeInstanceOf(LoraLinear);
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTestBert, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    disposeBatch(batch);
    reference.dispose();
    loaded.model.dispose();
  });

  it('loads an HF PEFT GPT-2 adapter on the fused c_attn Conv1D, with a rank_pattern', async () => {
    const dir = await tempDir();
    const config = { ...HF_BERT_CONFIG, target_modules: ['c_attn'], fan_in_fan_out: true, task_type: 'CAUSAL_LM', rank_pattern: { 'transformer.h.1.attn.c_attn': 3 }, use_rslora: true };
    const entries = [0, 1].map((layer) => ({ hfName: `transformer.h.${layer}.attn.c_attn`, path: `decoder.layers.${layer}.attention.qkv`, r: layer === 1 ? 3 : 2, inFeatures: 16, outFeatures: 48 }));
    const known = await writeHfFixture(dir, config, entries);
    const reference = createTinyGpt();
    reference.eval();
    // rsLoRA: α/√r per layer (HF LoraLayer.update_layer with use_rslora).
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry.a, entry.b, 4 / Math.sqrt(entry.r));
    const loaded = await loadPeft(createTinyGpt(), dir, { registry });
    loaded.model.eval();
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTinyGpt, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    disposeBatch(batch);
    reference.dispose();
    loaded.model.dispose();
  });

  it('loads a SEQ_CLS adapter whose head is in modules_to_save (HF ModulesToSaveWrapper keys: base_model.model.classifier.weight [out, in])', async () => {
    const dir = await tempDir();
    const head = Array.from({ length: 3 }, (_, j) => Array.from({ length: 16 }, (_, i) => 0.3 * Math.sin(j + 0.4 * i)));
    const headBias = [0.5, -0.25, 0.125];
    const extra = { 'base_model.model.classifier.weight': tf.tensor2d(head), 'base_model.model.classifier.bias': tf.tensor1d(headBias) };
    // HF's PeftModelForSequenceClassification adds both of its default head names; only `classifier` exists in BERT.
    const known = await writeHfFixture(dir, { ...HF_BERT_CONFIG, modules_to_save: ['classifier', 'score'] }, BERT_ENTRIES, extra);
    const reference = createTestBert();
    reference.eval();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry.a, entry.b, 2);
    const classifier = reference.getModule<Linear>('head.classifier');
    classifier.weight.assign(tf.tensor2d(head[0]!.map((_, i) => head.map((row) => row[i]!))));
    classifier.bias!.assign(tf.tensor1d(headBias));
    const base = createTestBert();
    const loaded = await loadPeft(base, dir, { registry });
    loaded.model.eval();
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTestBert, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    // The original head stays frozen underneath: disabling gives the base model back.
    const plain = createTestBert();
    plain.eval();
    loaded.disable();
    expectClose(logits(loaded, batch), logits(plain, batch));
    disposeBatch(batch);
    [reference, base, plain].forEach((model) => model.dispose());
  });

  it('loads an HF PEFT DoRA adapter (lora_magnitude_vector [out]): outputs equal m ⊙ V/‖V‖_c by hand', async () => {
    const dir = await tempDir();
    const magnitudes = BERT_ENTRIES.map((_, n) => Array.from({ length: 16 }, (_, j) => 0.5 + 0.05 * ((j + 3 * n) % 7)));
    const extra = Object.fromEntries(BERT_ENTRIES.map((entry, n) => [`base_model.model.${entry.hfName}.lora_magnitude_vector`, tf.tensor1d(magnitudes[n]!)]));
    const known = await writeHfFixture(dir, { ...HF_BERT_CONFIG, use_dora: true }, BERT_ENTRIES, extra);
    const reference = createTestBert();
    reference.eval();
    known.forEach((entry, n) => {
      const linear = reference.getModule<Linear>(entry.path);
      addUpdateByHand(linear, entry.a, entry.b, 2);
      const v = linear.weight.value.arraySync() as number[][];
      const norms = v[0]!.map((_, j) => Math.sqrt(v.reduce((sum, row) => sum + row[j]! ** 2, 0)));
      linear.weight.assign(tf.tensor2d(v.map((row) => row.map((value, j) => (magnitudes[n]![j]! * value) / norms[j]!))));
    });
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    loaded.model.eval();
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTestBert, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    const exported = loaded.appliedMethods()[0]!.exportHf!();
    expect(exported.config.use_dora).toBe(true);
    expect(exported.tensors['base_model.model.bert.encoder.layer.1.attention.self.value.lora_magnitude_vector']!.shape).toEqual([16]);
    tf.dispose(Object.values(exported.tensors));
    disposeBatch(batch);
    reference.dispose();
    loaded.model.dispose();
  });

  it('loads HF PEFT embedding LoRA (lora_embedding_A [r, vocab], lora_embedding_B [dim, r], no .weight) and round-trips it', async () => {
    const dir = await tempDir();
    // HF's lora.Embedding keeps A and B as ParameterDicts, so their keys end in the adapter name, which saving drops.
    const a = knownA(2, 50, 7);
    const b = knownB(16, 2, 7);
    const extra = { 'base_model.model.bert.embeddings.word_embeddings.lora_embedding_A': tf.tensor2d(a), 'base_model.model.bert.embeddings.word_embeddings.lora_embedding_B': tf.tensor2d(b) };
    const known = await writeHfFixture(dir, { ...HF_BERT_CONFIG, target_modules: ['query', 'value', 'word_embeddings'] }, BERT_ENTRIES, extra);
    const reference = createTestBert();
    reference.eval();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry.a, entry.b, 2);
    const table = reference.getModule<Embedding>('embeddings.word');
    const e = table.weight.value.arraySync() as number[][];
    table.weight.assign(tf.tensor2d(e.map((row, v) => row.map((value, j) => value + 2 * b[j]!.reduce((sum, bjk, k) => sum + bjk * a[k]![v]!, 0)))));
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    loaded.model.eval();
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTestBert, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    const again = await tempDir();
    await loaded.save(again, { format: 'hf' });
    const config = JSON.parse(await readFile(join(again, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.target_modules).toEqual(['query', 'value', 'word_embeddings']);
    const reloaded = await loadPeft(createTestBert(), again, { registry });
    reloaded.model.eval();
    expectClose(logits(reloaded, batch), logits(reference, batch));
    disposeBatch(batch);
    [reference, loaded.model, reloaded.model].forEach((model) => model.dispose());
  });

  it('rejects HF files with unknown, missing or mis-shaped tensors, or settings it cannot reproduce', async () => {
    const cases: Array<{ config?: Record<string, unknown>; entries?: FixtureEntry[]; extra?: () => Record<string, tf.Tensor>; code: string }> = [
      { extra: () => ({ 'base_model.model.classifier.weight': tf.zeros([3, 16]) }), code: 'checkpoint-mismatch' },
      { entries: BERT_ENTRIES.slice(1), code: 'checkpoint-mismatch' },
      { entries: BERT_ENTRIES.map((entry, i) => (i === 0 ? { ...entry, r: 3 } : entry)), code: 'checkpoint-mismatch' },
      // modules_to_save without its tensors.
      { config: { ...HF_BERT_CONFIG, modules_to_save: ['classifier', 'score'] }, code: 'checkpoint-mismatch' },
      // use_dora without the magnitude vectors.
      { config: { ...HF_BERT_CONFIG, use_dora: true }, code: 'checkpoint-mismatch' },
      { config: { ...HF_BERT_CONFIG, init_lora_weights: 'pissa' }, code: 'not-implemented' },
    ];
    for (const testCase of cases) {
      const dir = await tempDir();
      await writeHfFixture(dir, testCase.config ?? HF_BERT_CONFIG, testCase.entries ?? BERT_ENTRIES, testCase.extra?.());
      const model = createTestBert();
      await expect(loadPeft(model, dir, { registry })).rejects.toSatisfy((error: unknown) => (error as { code?: string }).code === testCase.code);
      model.dispose();
    }
  });

  it('exports HF PEFT files that load back to the same outputs (BERT, subset of layers, rank and alpha patterns)', async () => {
    const model = createTestBert();
    model.eval();
    const tuned = peft(model, [lora({ r: 2, alpha: 4, dropout: 0.05, targets: { roles: ['attention.query', 'ffn.up'], layers: [1] }, rankPattern: { up: 3 }, alphaPattern: { query: 6 } })]);
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.randomNormal(parameter.shape, 0, 0.2, 'float32', 3)));
    const batch = conformanceBatch(model);
    const expected = logits(tuned, batch);
    const dir = await tempDir();
    await tuned.save(dir, { format: 'hf' });
    const text = await readFile(join(dir, 'adapter_config.json'), 'utf8');
    const config = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 2,
      lora_alpha: 4,
      lora_dropout: 0.05,
      use_rslora: false,
      use_dora: false,
      fan_in_fan_out: false,
      bias: 'none',
      task_type: 'SEQ_CLS',
      // HF PEFT always trains and saves the classifier of a SEQ_CLS adapter; the head as it stands is written.
      modules_to_save: ['classifier'],
      base_model_name_or_path: null,
      init_lora_weights: true,
      // Only layer 1 is targeted: `query` with layers_to_transform [1] selects exactly it; the leaf
      // `dense` would over-select within layer 1, so that target keeps its full name (HF applies
      // layers_to_transform to suffix matches only).
      target_modules: ['bert.encoder.layer.1.intermediate.dense', 'query'],
      layers_to_transform: [1],
      rank_pattern: { 'bert.encoder.layer.1.intermediate.dense': 3 },
      alpha_pattern: { 'bert.encoder.layer.1.attention.self.query': 6 },
    });
    const { tensors } = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(Object.fromEntries(Object.entries(tensors).map(([key, tensor]) => [key, tensor.shape]))).toEqual({
      'base_model.model.bert.encoder.layer.1.attention.self.query.lora_A.weight': [2, 16],
      'base_model.model.bert.encoder.layer.1.attention.self.query.lora_B.weight': [16, 2],
      'base_model.model.bert.encoder.layer.1.intermediate.dense.lora_A.weight': [3, 16],
      'base_model.model.bert.encoder.layer.1.intermediate.dense.lora_B.weight': [32, 3],
      'base_model.model.classifier.weight': [3, 16],
      'base_model.model.classifier.bias': [3],
    });
    const ourA = tuned.model.getModule<LoraLinear>('encoder.layers.1.ffn.up').loraA.value.arraySync() as number[][];
    const fileA = tensors['base_model.model.bert.encoder.layer.1.intermediate.dense.lora_A.weight']!.arraySync() as number[][];
    expect(fileA[2]![5]).toBe(ourA[5]![2]);
    tf.dispose(Object.values(tensors));
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    loaded.model.eval();
    expect(loaded.model.getModule<LoraLinear>('encoder.layers.1.attention.query').alpha).toBe(6);
    expect(loaded.model.getModule('encoder.layers.0.attention.query')).not.toBeInstanceOf(LoraLinear);
    expectMovedFromBase(expected, createTestBert, batch);
    expectClose(logits(loaded, batch), expected);
    disposeBatch(batch);
    model.dispose();
    loaded.model.dispose();
  });

  it('exports a trained head as modules_to_save with HF key names and layout', async () => {
    const model = createTestBert();
    model.eval();
    const tuned = peft(model, [lora({ r: 2, modulesToSave: { roles: ['head'] } })]);
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.randomNormal(parameter.shape, 0, 0.2, 'float32', 5)));
    const batch = conformanceBatch(model);
    const expected = logits(tuned, batch);
    const dir = await tempDir();
    await tuned.save(dir, { format: 'hf' });
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ modules_to_save: ['classifier'], target_modules: ['query', 'value'] });
    const { tensors } = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(tensors['base_model.model.classifier.weight']!.shape).toEqual([3, 16]);
    expect(tensors['base_model.model.classifier.bias']!.shape).toEqual([3]);
    tf.dispose(Object.values(tensors));
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    loaded.model.eval();
    expectMovedFromBase(expected, createTestBert, batch);
    expectClose(logits(loaded, batch), expected);
    disposeBatch(batch);
    model.dispose();
    loaded.model.dispose();
  });

  it.each([
    { layers_to_transform: [1], layers_pattern: null },
    { layers_to_transform: 1, layers_pattern: 'layer' },
    { layers_to_transform: [1], layers_pattern: ['h', 'layer'] },
  ])('loads an HF adapter with layers_to_transform (%o): only those layers adapted, outputs by hand', async (selection) => {
    const dir = await tempDir();
    const entries = BERT_ENTRIES.filter((entry) => entry.hfName.includes('layer.1.'));
    const known = await writeHfFixture(dir, { ...HF_BERT_CONFIG, ...selection }, entries);
    const reference = createTestBert();
    reference.eval();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry.a, entry.b, 2);
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    loaded.model.eval();
    expect(loaded.model.getModule('encoder.layers.1.attention.query')).toBeInstanceOf(LoraLinear);
    expect(loaded.model.getModule('encoder.layers.0.attention.query')).not.toBeInstanceOf(LoraLinear);
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTestBert, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    disposeBatch(batch);
    reference.dispose();
    loaded.model.dispose();
  });

  it('reads GPT-2 layers_pattern "h" with one layer index, and writes leaf names with layers_to_transform back', async () => {
    const dir = await tempDir();
    const config = { ...HF_BERT_CONFIG, target_modules: ['c_attn'], fan_in_fan_out: true, task_type: 'CAUSAL_LM', layers_to_transform: 0, layers_pattern: 'h' };
    const known = await writeHfFixture(dir, config, [{ hfName: 'transformer.h.0.attn.c_attn', path: 'decoder.layers.0.attention.qkv', r: 2, inFeatures: 16, outFeatures: 48 }]);
    const reference = createTinyGpt();
    reference.eval();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry.a, entry.b, 2);
    const loaded = await loadPeft(createTinyGpt(), dir, { registry });
    loaded.model.eval();
    expect(loaded.model.getModule('decoder.layers.1.attention.qkv')).not.toBeInstanceOf(LoraLinear);
    const batch = conformanceBatch(reference);
    expectMovedFromBase(logits(reference, batch), createTinyGpt, batch);
    expectClose(logits(loaded, batch), logits(reference, batch));
    const exported = loaded.appliedMethods()[0]!.exportHf!();
    expect(exported.config).toMatchObject({ target_modules: ['c_attn'], layers_to_transform: [0], layers_pattern: null });
    tf.dispose(Object.values(exported.tensors));
    disposeBatch(batch);
    reference.dispose();
    loaded.model.dispose();
  });

  it('takes layersToTransform / layersPattern in our config, and refuses layersPattern alone', () => {
    const model = createTestBert();
    peft(model, [lora({ r: 2, layersToTransform: [0], layersPattern: 'layer' })]);
    expect(model.getModule('encoder.layers.0.attention.value')).toBeInstanceOf(LoraLinear);
    expect(model.getModule('encoder.layers.1.attention.value')).not.toBeInstanceOf(LoraLinear);
    model.dispose();
    expect(() => lora.parseConfig({ layersPattern: 'layer' })).toThrowError(expect.objectContaining({ field: 'lora.layersPattern' }));
    expect(() => lora.parseConfig({ layersToTransform: [0], hfTargetModules: '.*query' })).toThrowError(expect.objectContaining({ field: 'lora.layersToTransform' }));
  });

  it('refuses, before writing, a SEQ_CLS export whose model has no HF-named classifier head', async () => {
    const model = createTestBert();
    // A sequence classifier whose head HF cannot name: HF's loader would fail on the missing classifier tensors.
    const named = model as unknown as { hfModuleName(path: string): string };
    const hfModuleName = named.hfModuleName.bind(model);
    named.hfModuleName = (path: string) => {
      if (path.startsWith('head')) throw new PeftError('invalid-argument', `no HF name for ${path}`, { field: 'path', value: path });
      return hfModuleName(path);
    };
    const tuned = peft(model, [lora({ r: 2 })]);
    const dir = await tempDir();
    await expect(tuned.save(dir, { format: 'hf' })).rejects.toSatisfy(
      (error: unknown) => (error as { code?: string; field?: string }).code === 'not-implemented' && (error as { field?: string }).field === 'modulesToSave' && /SEQ_CLS/.test(String((error as Error).message)),
    );
    expect(await readdir(dir)).toEqual([]);
    model.dispose();
  });

  it('exports leaf target names and fan_in_fan_out for GPT-2 Conv1D targets, and round-trips', async () => {
    const model = createTinyGpt();
    model.eval();
    const tuned = peft(model, [lora({ r: 2, targets: { roles: ['attention.qkv'] }, init: 'gaussian' })]);
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.randomNormal(parameter.shape, 0, 0.2, 'float32', 4)));
    const batch = conformanceBatch(model);
    const expected = logits(tuned, batch);
    const dir = await tempDir();
    await tuned.save(dir, { format: 'hf' });
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ target_modules: ['c_attn'], fan_in_fan_out: true, task_type: 'CAUSAL_LM', init_lora_weights: 'gaussian' });
    const loaded = await loadPeft(createTinyGpt(), dir, { registry });
    loaded.model.eval();
    expectMovedFromBase(expected, createTinyGpt, batch);
    expectClose(logits(loaded, batch), expected);
    disposeBatch(batch);
    model.dispose();
    loaded.model.dispose();
  });
});
