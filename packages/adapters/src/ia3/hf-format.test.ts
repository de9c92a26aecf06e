import { createRegistry, loadPeft, loadSafetensors, tf, type Batch } from '@peftjs/core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ia3ConfigFromHf } from './hf-format';
import { IA3_FIXTURES, OUR_ADAPTERS, fixtureBatch, loadFixtureBase, logitsOf, maxDifference, ourAdapter, readExpected, type ExpectedLogits, type FixtureTask } from './hf-test-support';
import { Ia3Linear } from './layer';
import { ia3 } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const registry = createRegistry([ia3]);
const TOLERANCE = 1e-4;

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ia3-hf-'));
  dirs.push(dir);
  return dir;
}

let hf: ExpectedLogits;
let ours: ExpectedLogits;
let batch: Batch;
beforeAll(async () => {
  hf = await readExpected('hf-expected.json');
  ours = await readExpected('ours-expected.json');
  batch = fixtureBatch(hf);
});
afterAll(() => tf.dispose(Object.values(batch)));

const HF_ADAPTERS: Record<string, FixtureTask> = { 'bert-seq-cls': 'sequence-classification', 'gpt2-seq-cls': 'sequence-classification', 'gpt2-causal-lm': 'causal-lm' };

describe('ia3: HF PEFT IA3 files written by Python', () => {
  for (const [name, task] of Object.entries(HF_ADAPTERS)) {
    it(`loads hf-${name} and gives Python's logits, also merged`, async () => {
      const expected = hf.adapters[name]!;
      const model = await loadFixtureBase(expected.base, task);
      // The base alone already agrees with Python, and the adapter moves the logits far more than the tolerance.
      expect(maxDifference(logitsOf(model, batch), expected.baseLogits)).toBeLessThan(TOLERANCE);
      expect(maxDifference(expected.logits, expected.baseLogits)).toBeGreaterThan(100 * TOLERANCE);
      const tuned = await loadPeft(model, join(IA3_FIXTURES, `hf-${name}`), { registry });
      expect(maxDifference(logitsOf(tuned, batch), expected.logits)).toBeLessThan(TOLERANCE);
      tuned.merge();
      expect(maxDifference(logitsOf(tuned, batch), expected.logits)).toBeLessThan(TOLERANCE);
      model.dispose();
    });
  }

  it('reads the config as HF applies it: suffix names (output.dense is both BERT projections), [out,1] and [1,in] vectors, the head', async () => {
    const bert = await loadFixtureBase('bert', 'sequence-classification');
    const tuned = await loadPeft(bert, join(IA3_FIXTURES, 'hf-bert-seq-cls'), { registry });
    const wrapped = bert.namedModules().flatMap(([path, module]) => (module instanceof Ia3Linear ? [[path, module.isFeedforward()] as const] : []));
    expect(wrapped.filter(([path]) => path.startsWith('encoder.layers.0.'))).toEqual([
      ['encoder.layers.0.attention.key', false],
      ['encoder.layers.0.attention.value', false],
      ['encoder.layers.0.attention.output', true],
      ['encoder.layers.0.ffn.down', true],
    ]);
    const trained = tuned.trainableParameters().map((parameter) => bert.namedParameters().find(([, other]) => other === parameter)![0]);
    expect(trained).toContain('head.classifier.weight');
    bert.dispose();
  });

  it('maps HF config fields and rejects what it cannot do', () => {
    expect(ia3ConfigFromHf({ peft_type: 'IA3', target_modules: ['c_attn'], feedforward_modules: null, modules_to_save: ['classifier', 'score'] })).toEqual({ hfTargetModules: ['c_attn'], hfFeedforwardModules: [], hfModulesToSave: ['classifier', 'score'] });
    expect(() => ia3ConfigFromHf({ peft_type: 'IA3', target_modules: ['key'], exclude_modules: ['x'] })).toThrowError(expect.objectContaining({ code: 'not-implemented', field: 'exclude_modules' }));
  });

  it('refuses a file whose tensors do not fit, loading nothing', async () => {
    const model = await loadFixtureBase('gpt2', 'sequence-classification');
    const dir = await tempDir();
    const tuned = await ourAdapter('ours-gpt2-seq-cls');
    await tuned.save(dir, { format: 'hf' });
    const { tensors } = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
    const applied = (await loadPeft(model, join(IA3_FIXTURES, 'hf-gpt2-seq-cls'), { registry })).appliedMethods()[0]!;
    const wrong = { ...tensors, 'base_model.model.transformer.h.0.attn.c_attn.ia3_l': tf.ones([1, 48]) };
    expect(() => applied.loadHf!(wrong)).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    tf.dispose([...Object.values(tensors), wrong['base_model.model.transformer.h.0.attn.c_attn.ia3_l']]);
    tuned.model.dispose();
    model.dispose();
  });
});

describe('ia3: the HF files written here (loaded by HF PEFT in check_ours.py)', () => {
  for (const name of Object.keys(OUR_ADAPTERS)) {
    it(`${name}: the exporter still writes the committed files, and they load back to the same logits`, async () => {
      const tuned = await ourAdapter(name);
      const expected = ours.adapters[name]!;
      expect(maxDifference(logitsOf(tuned, batch), expected.logits)).toBeLessThan(1e-5);
      expect(maxDifference(expected.logits, expected.baseLogits)).toBeGreaterThan(100 * TOLERANCE);
      const dir = await tempDir();
      await tuned.save(dir, { format: 'hf' });
      expect(JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'))).toEqual(JSON.parse(await readFile(join(IA3_FIXTURES, name, 'adapter_config.json'), 'utf8')));
      const written = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
      const committed = await loadSafetensors(join(IA3_FIXTURES, name, 'adapter_model.safetensors'));
      expect(Object.keys(written.tensors).sort()).toEqual(Object.keys(committed.tensors).sort());
      for (const key of Object.keys(written.tensors)) expect(maxDifference(written.tensors[key]!.arraySync(), committed.tensors[key]!.arraySync())).toBeLessThan(1e-6);
      const reloaded = await loadPeft(await loadFixtureBase(OUR_ADAPTERS[name]!.base, OUR_ADAPTERS[name]!.task), dir, { registry });
      expect(maxDifference(logitsOf(reloaded, batch), expected.logits)).toBeLessThan(1e-5);
      tf.dispose([...Object.values(written.tensors), ...Object.values(committed.tensors)]);
      reloaded.model.dispose();
      tuned.model.dispose();
    });
  }
});
