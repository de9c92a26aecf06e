import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import type { GptConfigInput } from '../models/config';
import { GptModel } from '../models/gpt-model';
import { loadHfGpt2, saveHfGpt2 } from './hf-gpt2';
import { encodeSafetensors } from './safetensors';
import { parseSafetensorsHeader } from './safetensors-header';

const V = 20;
const H = 8;
const P = 16;
const LAYERS = 2;

let directory: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'peftjs-hf-gpt2-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** An HF GPT2Config as transformers writes it, by hand (n_inner null = 4 * n_embd). */
function hfConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: V,
    n_embd: H,
    n_layer: LAYERS,
    n_head: 2,
    n_positions: P,
    n_ctx: P,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: 0.1,
    embd_pdrop: 0.1,
    attn_pdrop: 0.1,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    ...extra,
  };
}

const ourConfig: GptConfigInput = { vocabSize: V, hiddenSize: H, numLayers: LAYERS, numHeads: 2, maxPositions: P };

/**
 * A GPT2Model state dict as the original `gpt2` files have it, key by key: no `transformer.`
 * prefix, Conv1D weights [in, out], the fused c_attn [H, 3H], and the causal-mask buffers.
 */
function handWrittenCheckpoint(prefix = ''): Record<string, tf.Tensor> {
  let seed = 7;
  const tensors: Record<string, tf.Tensor> = {};
  const put = (key: string, shape: number[]) => {
    tensors[key] = tf.randomNormal(shape, 0, 0.5, 'float32', seed++);
  };
  put(`${prefix}wte.weight`, [V, H]);
  put(`${prefix}wpe.weight`, [P, H]);
  for (let l = 0; l < LAYERS; l++) {
    const h = `${prefix}h.${l}`;
    put(`${h}.ln_1.weight`, [H]);
    put(`${h}.ln_1.bias`, [H]);
    put(`${h}.attn.c_attn.weight`, [H, 3 * H]);
    put(`${h}.attn.c_attn.bias`, [3 * H]);
    put(`${h}.attn.c_proj.weight`, [H, H]);
    put(`${h}.attn.c_proj.bias`, [H]);
    put(`${h}.ln_2.weight`, [H]);
    put(`${h}.ln_2.bias`, [H]);
    put(`${h}.mlp.c_fc.weight`, [H, 4 * H]);
    put(`${h}.mlp.c_fc.bias`, [4 * H]);
    put(`${h}.mlp.c_proj.weight`, [4 * H, H]);
    put(`${h}.mlp.c_proj.bias`, [H]);
    tensors[`${h}.attn.bias`] = tf.linalg.bandPart(tf.ones([P, P]), -1, 0).reshape([1, 1, P, P]);
    tensors[`${h}.attn.masked_bias`] = tf.scalar(-1e4);
  }
  put(`${prefix}ln_f.weight`, [H]);
  put(`${prefix}ln_f.bias`, [H]);
  return tensors;
}

/** Our parameter path and HF key of every tensor, written out independently of the loader's table (nothing is transposed). */
function directAssignments(prefix = ''): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['embeddings.word.weight', `${prefix}wte.weight`],
    ['embeddings.position.weight', `${prefix}wpe.weight`],
    ['decoder.finalNorm.gamma', `${prefix}ln_f.weight`],
    ['decoder.finalNorm.beta', `${prefix}ln_f.bias`],
  ];
  for (let l = 0; l < LAYERS; l++) {
    const ours = `decoder.layers.${l}`;
    const h = `${prefix}h.${l}`;
    rows.push(
      [`${ours}.attentionNorm.gamma`, `${h}.ln_1.weight`],
      [`${ours}.attentionNorm.beta`, `${h}.ln_1.bias`],
      [`${ours}.attention.qkv.weight`, `${h}.attn.c_attn.weight`],
      [`${ours}.attention.qkv.bias`, `${h}.attn.c_attn.bias`],
      [`${ours}.attention.output.weight`, `${h}.attn.c_proj.weight`],
      [`${ours}.attention.output.bias`, `${h}.attn.c_proj.bias`],
      [`${ours}.ffnNorm.gamma`, `${h}.ln_2.weight`],
      [`${ours}.ffnNorm.beta`, `${h}.ln_2.bias`],
      [`${ours}.ffn.up.weight`, `${h}.mlp.c_fc.weight`],
      [`${ours}.ffn.up.bias`, `${h}.mlp.c_fc.bias`],
      [`${ours}.ffn.down.weight`, `${h}.mlp.c_proj.weight`],
      [`${ours}.ffn.down.bias`, `${h}.mlp.c_proj.bias`],
    );
  }
  return rows;
}

async function writeCheckpoint(config: Record<string, unknown>, tensors: Record<string, tf.Tensor>): Promise<void> {
  await writeFile(join(directory, 'config.json'), JSON.stringify(config));
  await writeFile(join(directory, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
}

function logitsOf(model: GptModel): number[] {
  model.eval();
  const inputIds = tf.tensor([[1, 5, 7, 2], [3, 4, 19, 0]], [2, 4], 'int32');
  const attentionMask = tf.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], [2, 4], 'int32');
  const output = model.forward({ inputIds, attentionMask });
  const values = [...output.logits.dataSync()];
  tf.dispose([output.logits, output.lastHiddenState, inputIds, attentionMask]);
  return values;
}

function expectClose(actual: number[], expected: number[], tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(tolerance);
}

describe('loadHfGpt2', () => {
  it('loads the original gpt2 layout (no prefix, fused c_attn, mask buffers): logits equal a directly assigned model', async () => {
    const tensors = handWrittenCheckpoint();
    await writeCheckpoint(hfConfig(), tensors);
    const { model, info } = await loadHfGpt2(directory);
    expect(model.task).toBe('causal-lm');
    expect(info.prefix).toBe('');
    expect(info.ignoredKeys.sort()).toEqual(['h.0.attn.bias', 'h.0.attn.masked_bias', 'h.1.attn.bias', 'h.1.attn.masked_bias']);
    const reference = new GptModel(ourConfig);
    const fresh = logitsOf(reference);
    for (const [path, key] of directAssignments()) reference.getParameter(path).assign(tensors[key]!);
    const expected = logitsOf(reference);
    expectClose(logitsOf(model), expected);
    expect(Math.max(...expected.map((v, i) => Math.abs(v - fresh[i]!)))).toBeGreaterThan(1e-2);
    model.dispose();
    reference.dispose();
    tf.dispose(Object.values(tensors));
  });

  it('accepts a stored lm_head equal to wte (with the transformer. prefix) and refuses an untied one', async () => {
    const tensors = handWrittenCheckpoint('transformer.');
    tensors['lm_head.weight'] = tensors['transformer.wte.weight']!.clone();
    await writeCheckpoint(hfConfig(), tensors);
    const { model, info } = await loadHfGpt2(directory);
    expect(info.prefix).toBe('transformer.');
    expect(info.tiedKeys).toEqual(['lm_head.weight']);
    model.dispose();

    tensors['lm_head.weight'] = tf.zeros([V, H]);
    await writeCheckpoint(hfConfig(), tensors);
    const error = await loadHfGpt2(directory).catch((e: unknown) => e);
    expect(PeftError.hasCode(error, 'checkpoint-mismatch')).toBe(true);
    expect((error as PeftError).message).toMatch(/lm_head\.weight: must equal the tied transformer\.wte\.weight/);
    tf.dispose(Object.values(tensors));
  });

  it('reports a missing block tensor and an extra layer', async () => {
    const tensors = handWrittenCheckpoint();
    delete tensors['h.1.attn.c_attn.bias'];
    tensors['h.2.ln_1.weight'] = tf.ones([H]);
    await writeCheckpoint(hfConfig(), tensors);
    const error = await loadHfGpt2(directory).catch((e: unknown) => e);
    expect(PeftError.hasCode(error, 'checkpoint-mismatch')).toBe(true);
    expect((error as PeftError).value).toEqual({ missing: ['h.1.attn.c_attn.bias'], unexpected: ['h.2.ln_1.weight'], mismatched: [] });
    tf.dispose(Object.values(tensors));
  });

  it('refuses GPT-2 variants the reference model does not compute', async () => {
    await writeFile(join(directory, 'config.json'), JSON.stringify(hfConfig({ scale_attn_by_inverse_layer_idx: true })));
    await expect(loadHfGpt2(directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-config') && e.field === 'scale_attn_by_inverse_layer_idx');
  });
});

describe('saveHfGpt2', () => {
  it('writes GPT2LMHeadModel names without the tied lm_head, and round-trips logits exactly', async () => {
    const model = new GptModel(ourConfig);
    await saveHfGpt2(model, directory);
    const config = JSON.parse(await readFile(join(directory, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: H, n_layer: LAYERS, n_inner: 4 * H, n_positions: P });
    const header = parseSafetensorsHeader(new Uint8Array(await readFile(join(directory, 'model.safetensors'))));
    const shapes = Object.fromEntries(header.entries.map((e) => [e.name, e.shape]));
    expect(Object.keys(shapes).sort()).toEqual(directAssignments('transformer.').map(([, key]) => key).sort());
    expect(shapes['transformer.h.0.attn.c_attn.weight']).toEqual([H, 3 * H]);
    expect(shapes['transformer.h.0.mlp.c_proj.weight']).toEqual([4 * H, H]);
    const { model: loaded } = await loadHfGpt2(directory);
    expect(logitsOf(loaded)).toEqual(logitsOf(model));
    model.dispose();
    loaded.dispose();
  });

  it('round-trips a sequence classifier through the HF `score` head ([labels, hidden], no bias)', async () => {
    const model = new GptModel({ ...ourConfig, task: 'sequence-classification', numLabels: 3 });
    await saveHfGpt2(model, directory);
    const header = parseSafetensorsHeader(new Uint8Array(await readFile(join(directory, 'model.safetensors'))));
    const score = header.entries.filter((e) => e.name.startsWith('score'));
    expect(score.map((e) => [e.name, e.shape])).toEqual([['score.weight', [3, H]]]);
    const { model: loaded, info } = await loadHfGpt2(directory);
    expect(loaded.task).toBe('sequence-classification');
    expect(info.newlyInitialized).toEqual([]);
    expect(logitsOf(loaded)).toEqual(logitsOf(model));
    model.dispose();
    loaded.dispose();
  });
});
