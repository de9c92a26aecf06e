import { createBert, createRegistry, loadPeft, loadSafetensors, peft, tf, type Batch } from '@peftjs/core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lnTuningConfigFromHf } from './hf-format';
import { LN_TUNING_FIXTURES, OUR_ADAPTERS, fixtureBatch, loadFixtureBase, logitsOf, maxDifference, ourAdapter, readExpected, type ExpectedLogits, type FixtureTask } from './hf-test-support';
import { lnTuning, lnTuningMethod } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const registry = createRegistry([lnTuningMethod]);
const TOLERANCE = 1e-4;

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ln-tuning-hf-'));
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

describe('ln-tuning: HF PEFT LN_TUNING files written by Python', () => {
  for (const [name, task] of Object.entries(HF_ADAPTERS)) {
    it(`loads hf-${name} and gives Python's logits`, async () => {
      const expected = hf.adapters[name]!;
      const model = await loadFixtureBase(expected.base, task);
      // The base alone already agrees with Python, and the adapter moves the logits far more than the tolerance.
      expect(maxDifference(logitsOf(model, batch), expected.baseLogits)).toBeLessThan(TOLERANCE);
      expect(maxDifference(expected.logits, expected.baseLogits)).toBeGreaterThan(100 * TOLERANCE);
      const tuned = await loadPeft(model, join(LN_TUNING_FIXTURES, `hf-${name}`), { registry });
      expect(maxDifference(logitsOf(tuned, batch), expected.logits)).toBeLessThan(TOLERANCE);
      model.dispose();
    });
  }

  it('reads the config as HF applies it: named targets, the default GPT-2 targets, a regex, modules_to_save', async () => {
    const bert = await loadFixtureBase('bert', 'sequence-classification');
    const bertTuned = await loadPeft(bert, join(LN_TUNING_FIXTURES, 'hf-bert-seq-cls'), { registry });
    // target_modules ["LayerNorm"]: the embedding norm and both norms of each block, both tensors; and the classifier.
    const bertTrained = bertTuned.trainableParameters().map((parameter) => bert.namedParameters().find(([, other]) => other === parameter)![0]);
    expect(bertTrained.sort()).toEqual(
      ['embeddings.norm', 'encoder.layers.0.attentionNorm', 'encoder.layers.0.ffnNorm', 'encoder.layers.1.attentionNorm', 'encoder.layers.1.ffnNorm']
        .flatMap((path) => [`${path}.beta`, `${path}.gamma`])
        .concat(['head.classifier.bias', 'head.classifier.weight'])
        .sort(),
    );
    bert.dispose();
    const gpt = await loadFixtureBase('gpt2', 'causal-lm');
    const gptTuned = await loadPeft(gpt, join(LN_TUNING_FIXTURES, 'hf-gpt2-causal-lm'), { registry });
    const gptTrained = gptTuned.trainableParameters().map((parameter) => gpt.namedParameters().find(([, other]) => other === parameter)![0]);
    // The regex .*\.h\.\d+\.ln_1|.*\.ln_f: ln_1 of each block and the final norm; a causal LM saves no head.
    expect(gptTrained.sort()).toEqual(['decoder.finalNorm.beta', 'decoder.finalNorm.gamma', 'decoder.layers.0.attentionNorm.beta', 'decoder.layers.0.attentionNorm.gamma', 'decoder.layers.1.attentionNorm.beta', 'decoder.layers.1.attentionNorm.gamma']);
    gpt.dispose();
    expect(lnTuningConfigFromHf({ peft_type: 'LN_TUNING', target_modules: null, modules_to_save: ['classifier', 'score'], exclude_modules: ['ln_f'] })).toEqual({
      tensors: 'both',
      hfModulesToSave: ['classifier', 'score'],
      hfExcludeModules: ['ln_f'],
    });
    expect(() => lnTuningConfigFromHf({ peft_type: 'LORA' })).toThrowError(expect.objectContaining({ code: 'invalid-config', field: 'peft_type' }));
  });

  it('applies exclude_modules as HF does', async () => {
    const gpt = await loadFixtureBase('gpt2', 'sequence-classification');
    const tuned = peft(gpt, [lnTuning({ hfTargetModules: ['ln_1', 'ln_2', 'ln_f'], hfExcludeModules: ['h.1.ln_2', 'ln_f'], hfModulesToSave: ['classifier', 'score'] })]);
    const trained = tuned.trainableParameters().map((parameter) => gpt.namedParameters().find(([, other]) => other === parameter)![0]);
    expect(trained.filter((path) => path.endsWith('.gamma')).sort()).toEqual(['decoder.layers.0.attentionNorm.gamma', 'decoder.layers.0.ffnNorm.gamma', 'decoder.layers.1.attentionNorm.gamma']);
    expect(trained).toContain('head.score.weight');
    gpt.dispose();
  });

  it('refuses what it cannot reproduce, naming it', async () => {
    const bert = await loadFixtureBase('bert', 'sequence-classification');
    // HF would train a full copy of a Linear matched by target_modules.
    expect(() => peft(bert, [lnTuning({ hfTargetModules: ['LayerNorm', 'query'] })])).toThrowError(expect.objectContaining({ code: 'not-implemented', field: 'ln-tuning.hfTargetModules' }));
    expect(() => peft(bert, [lnTuning({ hfTargetModules: 'nothing\\.here' })])).toThrowError(expect.objectContaining({ code: 'selector-no-match', field: 'ln-tuning.hfTargetModules' }));
    // modules_to_save naming a module outside the head.
    expect(() => peft(bert, [lnTuning({ hfTargetModules: ['LayerNorm'], hfModulesToSave: ['pooler.dense'] })])).toThrowError(expect.objectContaining({ code: 'not-implemented', field: 'ln-tuning.hfModulesToSave' }));
    bert.dispose();
  });

  it("refuses a Python file whose tensors a narrower config would drop (gamma only, head frozen), and missing or extra keys", async () => {
    const { tensors } = await loadSafetensors(join(LN_TUNING_FIXTURES, 'hf-bert-seq-cls', 'adapter_model.safetensors'));
    try {
      const gammaOnly = peft(await loadFixtureBase('bert', 'sequence-classification'), [lnTuning({ tensors: 'gamma' })]);
      expect(() => gammaOnly.appliedMethods()[0]!.loadHf!(tensors)).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch', value: expect.arrayContaining(['base_model.model.bert.embeddings.LayerNorm.ln_tuning_layers.bias']) }));
      gammaOnly.model.dispose();
      const headFrozen = peft(await loadFixtureBase('bert', 'sequence-classification'), [lnTuning({ trainHead: false })]);
      expect(() => headFrozen.appliedMethods()[0]!.loadHf!(tensors)).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch', value: ['base_model.model.classifier.weight', 'base_model.model.classifier.bias'] }));
      headFrozen.model.dispose();
      const full = peft(await loadFixtureBase('bert', 'sequence-classification'), [lnTuning()]);
      const { ['base_model.model.classifier.bias']: _dropped, ...withoutBias } = tensors;
      expect(() => full.appliedMethods()[0]!.loadHf!(withoutBias)).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch', value: ['base_model.model.classifier.bias'] }));
      const extra = tf.zeros([16]);
      expect(() => full.appliedMethods()[0]!.loadHf!({ ...tensors, 'base_model.model.bert.pooler.dense.ln_tuning_layers.bias': extra })).toThrowError(
        expect.objectContaining({ code: 'checkpoint-mismatch', value: ['base_model.model.bert.pooler.dense.ln_tuning_layers.bias'] }),
      );
      extra.dispose();
      full.model.dispose();
    } finally {
      tf.dispose(Object.values(tensors));
    }
  });
});

describe('ln-tuning: HF PEFT LN_TUNING files written here', () => {
  for (const name of Object.keys(OUR_ADAPTERS)) {
    it(`${name}: the committed files Python checked (check_ours.py) are what the exporter writes now, with the same logits`, async () => {
      const tuned = await ourAdapter(name);
      const expected = ours.adapters[name]!;
      const logits = logitsOf(tuned, batch);
      expect(maxDifference(logits, expected.logits)).toBeLessThan(1e-6);
      expect(maxDifference(expected.logits, expected.baseLogits)).toBeGreaterThan(100 * TOLERANCE);
      const files = tuned.appliedMethods()[0]!.exportHf!();
      const committedConfig = JSON.parse(await readFile(join(LN_TUNING_FIXTURES, name, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      expect(files.config).toEqual(committedConfig);
      const { tensors: committed } = await loadSafetensors(join(LN_TUNING_FIXTURES, name, 'adapter_model.safetensors'));
      expect(Object.keys(files.tensors).sort()).toEqual(Object.keys(committed).sort());
      for (const [key, tensor] of Object.entries(files.tensors)) {
        expect(tensor.shape, key).toEqual(committed[key]!.shape);
        expect(Array.from(tensor.dataSync()), key).toEqual(Array.from(committed[key]!.dataSync()));
      }
      tf.dispose([...Object.values(files.tensors), ...Object.values(committed)]);
      tuned.model.dispose();
    });
  }

  it('writes the key names and config HF PEFT writes (as in the Python-made file of the same adapter)', async () => {
    const tuned = await ourAdapter('ours-bert-seq-cls');
    const files = tuned.appliedMethods()[0]!.exportHf!();
    const pythonConfig = JSON.parse(await readFile(join(LN_TUNING_FIXTURES, 'hf-bert-seq-cls', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const { tensors: pythonTensors } = await loadSafetensors(join(LN_TUNING_FIXTURES, 'hf-bert-seq-cls', 'adapter_model.safetensors'));
    expect(Object.keys(files.tensors).sort()).toEqual(Object.keys(pythonTensors).sort());
    for (const [key, tensor] of Object.entries(pythonTensors)) expect(files.tensors[key]!.shape, key).toEqual(tensor.shape);
    for (const field of ['peft_type', 'target_modules', 'task_type', 'exclude_modules']) expect(files.config[field], field).toEqual(pythonConfig[field]);
    // HF's PeftModelForSequenceClassification adds "score" too; the classifier is what this model has.
    expect(files.config.modules_to_save).toEqual(['classifier']);
    tf.dispose([...Object.values(files.tensors), ...Object.values(pythonTensors)]);
    tuned.model.dispose();
  });

  it('saves with format hf and loads back with the same logits, also a gamma-only adapter with its frozen head', async () => {
    for (const name of ['ours-bert-seq-cls', 'ours-bert-attention-gamma', 'ours-gpt2-causal-lm']) {
      const tuned = await ourAdapter(name);
      const expected = logitsOf(tuned, batch);
      const dir = await tempDir();
      await tuned.save(dir, { format: 'hf' });
      const spec = OUR_ADAPTERS[name]!;
      const fresh = await loadFixtureBase(spec.base, spec.task);
      expect(maxDifference(logitsOf(fresh, batch), expected)).toBeGreaterThan(100 * TOLERANCE);
      const loaded = await loadPeft(fresh, dir, { registry });
      expect(maxDifference(logitsOf(loaded, batch), expected)).toBeLessThan(1e-6);
      tuned.model.dispose();
      fresh.dispose();
    }
  });

  it('refuses to export what HF cannot hold: a masked-LM head', async () => {
    const model = createBert({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 8, task: 'masked-lm' });
    const tuned = peft(model, [lnTuning()]);
    expect(() => tuned.appliedMethods()[0]!.exportHf!()).toThrowError(expect.objectContaining({ code: 'not-implemented', field: 'trainHead' }));
    model.dispose();
  });
});

