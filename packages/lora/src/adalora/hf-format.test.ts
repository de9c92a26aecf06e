import { Linear, createBert, createRegistry, setGlobalSeed, loadPeft, peft, saveSafetensors, tf, type Module } from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdaLoraLinear } from './layer';
import { adalora, adaloraMethod } from './method';

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
  const dir = await mkdtemp(join(tmpdir(), 'adalora-hf-'));
  dirs.push(dir);
  return dir;
}

const registry = createRegistry([adaloraMethod]);
const INIT_R = 3;
const ALPHA = 6;
const SCALING = ALPHA / (INIT_R + 1e-5);

/** AdaLoraConfig fields as HF PEFT's save_pretrained writes them (peft/tuners/adalora/config.py). */
const HF_CONFIG = {
  base_model_name_or_path: null,
  beta1: 0.85,
  beta2: 0.85,
  bias: 'none',
  deltaT: 1,
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  init_r: INIT_R,
  layers_pattern: null,
  layers_to_transform: null,
  lora_alpha: ALPHA,
  lora_dropout: 0,
  modules_to_save: null,
  orth_reg_weight: 0.5,
  peft_type: 'ADALORA',
  r: 8,
  // HF keys rank_pattern by the lora_E parameter name, the adapter name removed on saving
  // (get_peft_model_state_dict); layer 0's query keeps ranks 0 and 2.
  rank_pattern: { 'bert.encoder.layer.0.attention.self.query.lora_E': [true, false, true] } as Record<string, boolean[]> | null,
  revision: null,
  target_modules: ['query', 'value'],
  target_r: 2,
  task_type: 'SEQ_CLS',
  tfinal: 0,
  tinit: 0,
  total_step: 100,
};

interface Entry {
  hfName: string;
  path: string;
  /** Ranks in the file. */
  rank: number;
  a: number[][];
  e: number[];
  b: number[][];
}

/** Known HF tensors: lora_A [rank, in], lora_E [rank, 1], lora_B [out, rank] (HF's documented layout). */
function entries(): Entry[] {
  return [0, 1].flatMap((layer) =>
    (['query', 'value'] as const).map((name, n) => {
      const rank = layer === 0 && name === 'query' ? 2 : INIT_R;
      const seed = layer * 2 + n + 1;
      return {
        hfName: `bert.encoder.layer.${layer}.attention.self.${name}`,
        path: `encoder.layers.${layer}.attention.${name}`,
        rank,
        a: Array.from({ length: rank }, (_, k) => Array.from({ length: 16 }, (_, i) => Math.sin(seed * 7 + k * 3 + i) * 0.3)),
        // Large singular values: the adapter moves the logits by far more than the test tolerance.
        e: Array.from({ length: rank }, (_, k) => (k + 1) * 5 * (seed % 2 ? 1 : -1)),
        b: Array.from({ length: 16 }, (_, o) => Array.from({ length: rank }, (_, k) => Math.cos(seed * 5 + o * 2 + k) * 0.3)),
      };
    }),
  );
}

async function writeFixture(dir: string, known: Entry[], extra: Record<string, tf.Tensor> = {}, config: Record<string, unknown> = HF_CONFIG): Promise<void> {
  const tensors: Record<string, tf.Tensor> = { ...extra };
  for (const entry of known) {
    // nn.ParameterDict entries: no `.weight` (HF's AdaLoraLayer).
    tensors[`base_model.model.${entry.hfName}.lora_A`] = tf.tensor2d(entry.a);
    tensors[`base_model.model.${entry.hfName}.lora_E`] = tf.tensor2d(entry.e.map((value) => [value]));
    tensors[`base_model.model.${entry.hfName}.lora_B`] = tf.tensor2d(entry.b);
  }
  await saveSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  tf.dispose(Object.values(tensors));
  await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
}

/** W[i][o] += s·Σ_k A[k][i]·E[k]·B[o][k]: HF's B·(A ⊙ E)·s, transposed to our [in, out], in plain loops. */
function addUpdateByHand(linear: Linear, entry: Entry): void {
  const weight = linear.weight.value.arraySync() as number[][];
  const updated = weight.map((row, i) => row.map((w, o) => w + SCALING * entry.e.reduce((sum, e, k) => sum + entry.a[k]![i]! * e * entry.b[o]![k]!, 0)));
  linear.weight.assign(tf.tensor2d(updated));
}

function logits(model: Module<any, any>, batch: ReturnType<typeof conformanceBatch>): number[] {
  const task = model as unknown as ConformanceModel;
  task.eval();
  return tf.tidy(() => Array.from(task.forward(batch).logits.dataSync()));
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(1e-5));
}

/** The largest |a − b|: a loaded adapter must move the logits by far more (≥ 100×) than the 1e-5 tolerance. */
function maxDifference(a: number[], b: number[]): number {
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i]!)), 0);
}

describe('AdaLoRA in HF PEFT format', () => {
  it('writes a head trained in full as HF modules_to_save ([out, in] weight) and reads it back', async () => {
    const model = createTestBert();
    const tuned = peft(model, [adalora({ initR: 2, targetR: 1, targets: { roles: ['attention.query'] }, modulesToSave: { roles: ['head'] } })]);
    const files = tuned.appliedMethods()[0]!.exportHf!();
    const saved = files.config.modules_to_save as string[];
    expect(saved).toHaveLength(1);
    const weightKey = `base_model.model.${saved[0]}.weight`;
    const head = model.namedModules().flatMap(([path, module]) => (path.startsWith('head') && module instanceof Linear ? [module] : []))[0]!;
    expect(files.tensors[weightKey]!.arraySync()).toEqual(tf.tidy(() => tf.transpose(head.weight.value).arraySync()));
    tf.dispose(Object.values(files.tensors));
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.randomNormal(parameter.shape, 0, 0.5, 'float32', 9)));
    const batch = conformanceBatch(model);
    const expected = logits(model, batch);
    const plain = createTestBert();
    expect(maxDifference(expected, logits(plain, batch))).toBeGreaterThan(0.05);
    const dir = await tempDir();
    await tuned.save(dir, { format: 'hf' });
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    expectClose(logits(loaded.model, batch), expected);
    disposeBatch(batch);
    [model, plain, loaded.model].forEach((each) => each.dispose());
  });

  it('reads HF PEFT SEQ_CLS files: modules_to_save ["classifier", "score"] with the classifier tensors', async () => {
    const dir = await tempDir();
    const known = entries();
    const head = Array.from({ length: 3 }, (_, j) => Array.from({ length: 16 }, (_, i) => 0.4 * Math.sin(2 * j + 0.3 * i)));
    const headBias = [0.3, -0.2, 0.1];
    const extra = { 'base_model.model.classifier.weight': tf.tensor2d(head), 'base_model.model.classifier.bias': tf.tensor1d(headBias) };
    await writeFixture(dir, known, extra, { ...HF_CONFIG, modules_to_save: ['classifier', 'score'] });
    const reference = createTestBert();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry);
    const classifier = reference.getModule<Linear>('head.classifier');
    classifier.weight.assign(tf.tensor2d(head[0]!.map((_, i) => head.map((row) => row[i]!))));
    classifier.bias!.assign(tf.tensor1d(headBias));
    const batch = conformanceBatch(reference);
    const expected = logits(reference, batch);
    const plain = createTestBert();
    expect(maxDifference(expected, logits(plain, batch))).toBeGreaterThan(0.05);
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    expectClose(logits(loaded.model, batch), expected);
    disposeBatch(batch);
    [reference, plain, loaded.model].forEach((each) => each.dispose());
  });

  it('loads an HF fixture (rank_pattern-resized module included): outputs equal W + s·(B·(A ⊙ E))ᵀ by hand', async () => {
    const dir = await tempDir();
    const known = entries();
    await writeFixture(dir, known);
    const reference = createTestBert();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry);
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    const resized = loaded.model.getModule<AdaLoraLinear>('encoder.layers.0.attention.query');
    expect(resized).toBeInstanceOf(AdaLoraLinear);
    // The dropped rank (position 1) is pruned: its singular value is zero and its mask false.
    expect(Array.from(resized.loraE.value.dataSync())).toEqual([5, 0, 10]);
    expect(resized.rankMask).toEqual([true, false, true]);
    expect(loaded.model.getModule('encoder.layers.0.attention.key')).not.toBeInstanceOf(AdaLoraLinear);
    const batch = conformanceBatch(reference);
    const expected = logits(reference, batch);
    const plain = createTestBert();
    expect(maxDifference(expected, logits(plain, batch))).toBeGreaterThan(0.05);
    plain.dispose();
    expectClose(logits(loaded.model, batch), expected);

    // Saving writes HF's layout again: same keys, the kept ranks only, the rank pattern, same outputs on reload.
    const again = await tempDir();
    await loaded.save(again, { format: 'hf' });
    const config = JSON.parse(await readFile(join(again, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'ADALORA', init_r: INIT_R, target_r: 2, lora_alpha: ALPHA, tinit: 0, tfinal: 0, deltaT: 1, beta1: 0.85, beta2: 0.85, orth_reg_weight: 0.5, total_step: 100 });
    expect(config.target_modules).toEqual(['query', 'value']);
    expect(config.rank_pattern).toEqual(
      Object.fromEntries(known.map((entry) => [`${entry.hfName}.lora_E`, entry.rank === INIT_R ? [true, true, true] : [true, false, true]])),
    );
    const reloaded = await loadPeft(createTestBert(), again, { registry });
    expectClose(logits(reloaded.model, batch), expected);
    disposeBatch(batch);
    for (const model of [reference, loaded.model, reloaded.model]) model.dispose();
  });

  it('writes lora_A [r, in], lora_E [r, 1], lora_B [out, r] (no .weight), the SEQ_CLS head, and no rank_pattern before any pruning', async () => {
    const model = createTestBert();
    const tuned = peft(model, [adalora({ initR: 3, targetR: 1, targets: { roles: ['attention.query'], layers: [1] } })]);
    const layer = model.getModule<AdaLoraLinear>('encoder.layers.1.attention.query');
    layer.loraE.assign(tf.tensor1d([1, 2, 3]));
    const files = tuned.appliedMethods()[0]!.exportHf!();
    const prefix = 'base_model.model.bert.encoder.layer.1.attention.self.query';
    // HF's ParameterDict names, and the classifier HF always trains for SEQ_CLS (its loader requires it).
    expect(Object.keys(files.tensors).sort()).toEqual([`${prefix}.lora_A`, `${prefix}.lora_B`, `${prefix}.lora_E`, 'base_model.model.classifier.bias', 'base_model.model.classifier.weight']);
    expect(files.tensors[`${prefix}.lora_A`]!.arraySync()).toEqual(tf.tidy(() => tf.transpose(layer.loraA.value).arraySync()));
    expect(files.tensors[`${prefix}.lora_B`]!.arraySync()).toEqual(tf.tidy(() => tf.transpose(layer.loraB.value).arraySync()));
    expect(files.tensors[`${prefix}.lora_E`]!.arraySync()).toEqual([[1], [2], [3]]);
    expect(files.tensors['base_model.model.classifier.weight']!.arraySync()).toEqual(tf.tidy(() => tf.transpose(model.getModule<Linear>('head.classifier').weight.value).arraySync()));
    expect(files.config).toMatchObject({ rank_pattern: null, modules_to_save: ['classifier'], task_type: 'SEQ_CLS', target_modules: ['query'], layers_to_transform: [1] });
    // HF's AdaLoraConfig refuses total_step None: an untrained export writes the shortest valid schedule.
    expect(files.config.total_step).toBe(1);
    tf.dispose(Object.values(files.tensors));
    model.dispose();
  });

  it('reads layers_to_transform / layers_pattern: only those layers adapted, outputs by hand', async () => {
    const dir = await tempDir();
    const known = entries().filter((entry) => entry.hfName.includes('layer.1.'));
    await writeFixture(dir, known, {}, { ...HF_CONFIG, rank_pattern: null, layers_to_transform: [1], layers_pattern: 'layer' });
    const reference = createTestBert();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry);
    const batch = conformanceBatch(reference);
    const expected = logits(reference, batch);
    const plain = createTestBert();
    expect(maxDifference(expected, logits(plain, batch))).toBeGreaterThan(0.05);
    const loaded = await loadPeft(createTestBert(), dir, { registry });
    expect(loaded.model.getModule('encoder.layers.1.attention.query')).toBeInstanceOf(AdaLoraLinear);
    expect(loaded.model.getModule('encoder.layers.0.attention.query')).not.toBeInstanceOf(AdaLoraLinear);
    expectClose(logits(loaded.model, batch), expected);
    disposeBatch(batch);
    [reference, plain, loaded.model].forEach((each) => each.dispose());
  });

  it('rejects a file whose ranks do not fit init_r, naming the key', async () => {
    const dir = await tempDir();
    const known = entries();
    await writeFixture(dir, known);
    const config = { ...HF_CONFIG, rank_pattern: null };
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config));
    await expect(loadPeft(createTestBert(), dir, { registry })).rejects.toSatisfy(
      (error: unknown) => (error as { code?: string }).code === 'checkpoint-mismatch' && String((error as Error).message).includes('layer.0.attention.self.query.lora_A has shape'),
    );
  });

  it("rejects files with nn.Linear-style names (`lora_A.weight`), which are not HF's AdaLoRA names", async () => {
    const dir = await tempDir();
    await writeFixture(dir, entries(), { 'base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight': tf.zeros([2, 16]) });
    await expect(loadPeft(createTestBert(), dir, { registry })).rejects.toSatisfy(
      (error: unknown) => (error as { code?: string }).code === 'checkpoint-mismatch' && String((error as Error).message).includes('unexpected base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight'),
    );
  });
});
