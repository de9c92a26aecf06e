import { createRegistry, loadHfBert, loadHfGpt2, loadPeft, tf, type Batch, type Module } from '@peftjs/core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdaLoraLinear } from './adalora/layer';
import { adaloraMethod } from './adalora/method';
import { LoraLinear } from './lora/layer';
import { loraMethod } from './lora/method';

/**
 * Adapters written by HF PEFT v0.20.0 itself, with the logits Python computed
 * (fixtures/hf-peft/make_fixtures.py): the tiny checkpoints load with core's HF loaders, the
 * adapters with loadPeft, and our logits must equal Python's.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/hf-peft/', import.meta.url));
const TOLERANCE = 2e-5;

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  bert_base_logits: number[][];
  adalora_seqcls_logits: number[][];
  lora_layers_seqcls_logits: number[][];
  gpt2_base_logits: number[][][];
  lora_gpt2_h_logits: number[][][];
}

let expected: Expected;
const registry = createRegistry([loraMethod, adaloraMethod]);
const dirs: string[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  expected = JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
});
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

function batchOf(data: Expected): Batch {
  return { inputIds: tf.tensor2d(data.input_ids, undefined, 'int32'), attentionMask: tf.tensor2d(data.attention_mask, undefined, 'int32') };
}

function logitsOf(model: Module<any, any>, batch: Batch): number[] {
  const task = model as unknown as { eval(): void; forward(batch: Batch): { logits: tf.Tensor } };
  task.eval();
  return tf.tidy(() => Array.from(task.forward(batch).logits.dataSync()));
}

function maxDifference(actual: readonly number[], reference: readonly number[]): number {
  expect(actual.length).toBe(reference.length);
  return actual.reduce((max, value, i) => Math.max(max, Math.abs(value - reference[i]!)), 0);
}

describe('HF PEFT golden fixtures (written by Python)', () => {
  it('AdaLoRA SEQ_CLS after pruning (rank_pattern, lora_A/E/B without .weight, classifier in modules_to_save): Python’s logits', async () => {
    const batch = batchOf(expected);
    const { model } = await loadHfBert(join(FIXTURES, 'bert-base'));
    expect(maxDifference(logitsOf(model, batch), expected.bert_base_logits.flat())).toBeLessThan(TOLERANCE);
    // The adapter moves the logits by O(1): a loader that ignored any of it would fail below.
    expect(maxDifference(expected.adalora_seqcls_logits.flat(), expected.bert_base_logits.flat())).toBeGreaterThan(0.5);
    const loaded = await loadPeft(model, join(FIXTURES, 'adalora-seqcls'), { registry });
    const hfConfig = JSON.parse(await readFile(join(FIXTURES, 'adalora-seqcls', 'adapter_config.json'), 'utf8')) as { rank_pattern: Record<string, boolean[]> };
    const query = loaded.model.getModule<AdaLoraLinear>('encoder.layers.1.attention.query');
    expect(query.rankMask).toEqual(hfConfig.rank_pattern['bert.encoder.layer.1.attention.self.query.lora_E']);
    expect(maxDifference(logitsOf(loaded.model, batch), expected.adalora_seqcls_logits.flat())).toBeLessThan(TOLERANCE);

    // Written back in HF's layout, it loads again to the same logits.
    const dir = await mkdtemp(join(tmpdir(), 'hf-golden-'));
    dirs.push(dir);
    await loaded.save(dir, { format: 'hf' });
    const written = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(written.rank_pattern).toEqual(hfConfig.rank_pattern);
    expect(written).toMatchObject({ modules_to_save: ['classifier'], task_type: 'SEQ_CLS', total_step: 8 });
    const { model: fresh } = await loadHfBert(join(FIXTURES, 'bert-base'));
    const reloaded = await loadPeft(fresh, dir, { registry });
    expect(maxDifference(logitsOf(reloaded.model, batch), expected.adalora_seqcls_logits.flat())).toBeLessThan(TOLERANCE);
    tf.dispose([batch.inputIds, batch.attentionMask!]);
    model.dispose();
    fresh.dispose();
  });

  it('LoRA SEQ_CLS with layers_to_transform [1] / layers_pattern "layer" and the classifier in modules_to_save: Python’s logits', async () => {
    const batch = batchOf(expected);
    const { model } = await loadHfBert(join(FIXTURES, 'bert-base'));
    expect(maxDifference(expected.lora_layers_seqcls_logits.flat(), expected.bert_base_logits.flat())).toBeGreaterThan(0.5);
    const loaded = await loadPeft(model, join(FIXTURES, 'lora-layers-seqcls'), { registry });
    expect(loaded.model.getModule('encoder.layers.1.attention.value')).toBeInstanceOf(LoraLinear);
    expect(loaded.model.getModule('encoder.layers.0.attention.value')).not.toBeInstanceOf(LoraLinear);
    expect(maxDifference(logitsOf(loaded.model, batch), expected.lora_layers_seqcls_logits.flat())).toBeLessThan(TOLERANCE);
    tf.dispose([batch.inputIds, batch.attentionMask!]);
    model.dispose();
  });

  it('the adapters we wrote for Python (ours/, checked there by load_ours.py) load back here to our logits', async () => {
    // ours/adalora-seqcls prunes one target to rank 0: HF keeps [0, in] tensors for it, and so do we.
    const ours = JSON.parse(await readFile(join(FIXTURES, 'ours', 'expected.json'), 'utf8')) as Record<string, number[]>;
    expect(Object.keys(ours).sort()).toEqual(['adalora-seqcls', 'lora-auto-head', 'lora-gpt2-h', 'lora-layers-seqcls']);
    const batch = batchOf(expected);
    for (const [name, logits] of Object.entries(ours)) {
      const { model } = name.includes('gpt2') ? await loadHfGpt2(join(FIXTURES, 'gpt2-base')) : await loadHfBert(join(FIXTURES, 'bert-base'));
      expect(maxDifference(logits, logitsOf(model, batch))).toBeGreaterThan(0.5);
      const loaded = await loadPeft(model, join(FIXTURES, 'ours', name), { registry });
      expect(maxDifference(logitsOf(loaded.model, batch), logits)).toBeLessThan(TOLERANCE);
      model.dispose();
    }
    tf.dispose([batch.inputIds, batch.attentionMask!]);
  });

  it('LoRA on GPT-2 c_attn of block 0 only (layers_pattern "h"): Python’s logits', async () => {
    const batch = batchOf(expected);
    const { model } = await loadHfGpt2(join(FIXTURES, 'gpt2-base'));
    expect(maxDifference(logitsOf(model, batch), expected.gpt2_base_logits.flat(2))).toBeLessThan(TOLERANCE);
    expect(maxDifference(expected.lora_gpt2_h_logits.flat(2), expected.gpt2_base_logits.flat(2))).toBeGreaterThan(0.5);
    const loaded = await loadPeft(model, join(FIXTURES, 'lora-gpt2-h'), { registry });
    expect(loaded.model.getModule('decoder.layers.1.attention.qkv')).not.toBeInstanceOf(LoraLinear);
    expect(maxDifference(logitsOf(loaded.model, batch), expected.lora_gpt2_h_logits.flat(2))).toBeLessThan(TOLERANCE);
    tf.dispose([batch.inputIds, batch.attentionMask!]);
    model.dispose();
  });
});
