import { Linear, createRegistry, loadPeft, peft, saveSafetensors, tf, type Module } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
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
  // HF keys rank_pattern by the lora_E parameter name, adapter name included; layer 0's query keeps ranks 0 and 2.
  rank_pattern: { 'bert.encoder.layer.0.attention.self.query.lora_E.default': [true, false, true] } as Record<string, boolean[]> | null,
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
        e: Array.from({ length: rank }, (_, k) => (k + 1) * 0.5 * (seed % 2 ? 1 : -1)),
        b: Array.from({ length: 16 }, (_, o) => Array.from({ length: rank }, (_, k) => Math.cos(seed * 5 + o * 2 + k) * 0.3)),
      };
    }),
  );
}

async function writeFixture(dir: string, known: Entry[]): Promise<void> {
  const tensors: Record<string, tf.Tensor> = {};
  for (const entry of known) {
    tensors[`base_model.model.${entry.hfName}.lora_A.weight`] = tf.tensor2d(entry.a);
    tensors[`base_model.model.${entry.hfName}.lora_E.weight`] = tf.tensor2d(entry.e.map((value) => [value]));
    tensors[`base_model.model.${entry.hfName}.lora_B.weight`] = tf.tensor2d(entry.b);
  }
  await saveSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  tf.dispose(Object.values(tensors));
  await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(HF_CONFIG, null, 2));
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

describe('AdaLoRA in HF PEFT format', () => {
  it('writes a head trained in full as HF modules_to_save ([out, in] weight); reading such files is refused, not ignored', async () => {
    const model = createConformanceBert();
    const tuned = peft(model, [adalora({ initR: 2, targetR: 1, targets: { roles: ['attention.query'] }, modulesToSave: { roles: ['head'] } })]);
    const files = tuned.appliedMethods()[0]!.exportHf!();
    const saved = files.config.modules_to_save as string[];
    expect(saved).toHaveLength(1);
    const weightKey = `base_model.model.${saved[0]}.weight`;
    const head = model.namedModules().flatMap(([path, module]) => (path.startsWith('head') && module instanceof Linear ? [module] : []))[0]!;
    expect(files.tensors[weightKey]!.arraySync()).toEqual(tf.tidy(() => tf.transpose(head.weight.value).arraySync()));
    tf.dispose(Object.values(files.tensors));
    const dir = await tempDir();
    await tuned.save(dir, { format: 'hf' });
    await expect(loadPeft(createConformanceBert(), dir, { registry })).rejects.toSatisfy((error: unknown) => (error as { code?: string }).code === 'not-implemented');
    model.dispose();
  });

  it('loads an HF fixture (rank_pattern-resized module included): outputs equal W + s·(B·(A ⊙ E))ᵀ by hand', async () => {
    const dir = await tempDir();
    const known = entries();
    await writeFixture(dir, known);
    const reference = createConformanceBert();
    for (const entry of known) addUpdateByHand(reference.getModule<Linear>(entry.path), entry);
    const loaded = await loadPeft(createConformanceBert(), dir, { registry });
    const resized = loaded.model.getModule<AdaLoraLinear>('encoder.layers.0.attention.query');
    expect(resized).toBeInstanceOf(AdaLoraLinear);
    // The dropped rank (position 1) is pruned: its singular value is zero and its mask false.
    expect(Array.from(resized.loraE.value.dataSync())).toEqual([0.5, 0, 1]);
    expect(resized.rankMask).toEqual([true, false, true]);
    expect(loaded.model.getModule('encoder.layers.0.attention.key')).not.toBeInstanceOf(AdaLoraLinear);
    const batch = conformanceBatch(reference);
    const expected = logits(reference, batch);
    expectClose(logits(loaded.model, batch), expected);

    // Saving writes HF's layout again: same keys, the kept ranks only, the rank pattern, same outputs on reload.
    const again = await tempDir();
    await loaded.save(again, { format: 'hf' });
    const config = JSON.parse(await readFile(join(again, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'ADALORA', init_r: INIT_R, target_r: 2, lora_alpha: ALPHA, tinit: 0, tfinal: 0, deltaT: 1, beta1: 0.85, beta2: 0.85, orth_reg_weight: 0.5, total_step: 100 });
    expect(config.target_modules).toEqual(['query', 'value']);
    expect(config.rank_pattern).toEqual(
      Object.fromEntries(known.map((entry) => [`${entry.hfName}.lora_E.default`, entry.rank === INIT_R ? [true, true, true] : [true, false, true]])),
    );
    const reloaded = await loadPeft(createConformanceBert(), again, { registry });
    expectClose(logits(reloaded.model, batch), expected);
    disposeBatch(batch);
    for (const model of [reference, loaded.model, reloaded.model]) model.dispose();
  });

  it('writes lora_A [r, in], lora_E [r, 1], lora_B [out, r] and no rank_pattern before any pruning', async () => {
    const model = createConformanceBert();
    const tuned = peft(model, [adalora({ initR: 3, targetR: 1, targets: { roles: ['attention.query'], layers: [1] } })]);
    const layer = model.getModule<AdaLoraLinear>('encoder.layers.1.attention.query');
    layer.loraE.assign(tf.tensor1d([1, 2, 3]));
    const files = tuned.appliedMethods()[0]!.exportHf!();
    const prefix = 'base_model.model.bert.encoder.layer.1.attention.self.query';
    expect(Object.keys(files.tensors).sort()).toEqual([`${prefix}.lora_A.weight`, `${prefix}.lora_B.weight`, `${prefix}.lora_E.weight`]);
    expect(files.tensors[`${prefix}.lora_A.weight`]!.arraySync()).toEqual(tf.tidy(() => tf.transpose(layer.loraA.value).arraySync()));
    expect(files.tensors[`${prefix}.lora_B.weight`]!.arraySync()).toEqual(tf.tidy(() => tf.transpose(layer.loraB.value).arraySync()));
    expect(files.tensors[`${prefix}.lora_E.weight`]!.arraySync()).toEqual([[1], [2], [3]]);
    expect(files.config.rank_pattern).toBeNull();
    tf.dispose(Object.values(files.tensors));
    model.dispose();
  });

  it('rejects a file whose ranks do not fit init_r, naming the key', async () => {
    const dir = await tempDir();
    const known = entries();
    await writeFixture(dir, known);
    const config = { ...HF_CONFIG, rank_pattern: null };
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config));
    await expect(loadPeft(createConformanceBert(), dir, { registry })).rejects.toSatisfy(
      (error: unknown) => (error as { code?: string }).code === 'checkpoint-mismatch' && String((error as Error).message).includes('layer.0.attention.self.query.lora_A.weight'),
    );
  });
});
