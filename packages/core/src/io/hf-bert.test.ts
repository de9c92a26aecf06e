import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { BertModel } from '../models/bert-model';
import type { BertConfigInput } from '../models/config';
import { loadHfBert, saveHfBert } from './hf-bert';
import { encodeSafetensors } from './safetensors';
import { parseSafetensorsHeader } from './safetensors-header';

const V = 20;
const H = 8;
const I = 16;
const P = 16;
const LAYERS = 2;
const LABELS = 3;

let directory: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'peftjs-hf-bert-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** An HF BertConfig as transformers writes it, by hand. */
function hfConfig(architecture: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: [architecture],
    model_type: 'bert',
    vocab_size: V,
    hidden_size: H,
    num_hidden_layers: LAYERS,
    num_attention_heads: 2,
    intermediate_size: I,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: P,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    position_embedding_type: 'absolute',
    ...extra,
  };
}

const ourConfig: BertConfigInput = {
  vocabSize: V,
  hiddenSize: H,
  numLayers: LAYERS,
  numHeads: 2,
  intermediateSize: I,
  maxPositions: P,
  typeVocabSize: 2,
};

/**
 * An HF BertForSequenceClassification state dict written key by key: torch Linear weights are
 * [out, in]. Values are seeded normals, so every tensor differs from a fresh model's.
 */
function handWrittenCheckpoint(prefix = 'bert.'): Record<string, tf.Tensor> {
  let seed = 1;
  const tensors: Record<string, tf.Tensor> = {};
  const put = (key: string, shape: number[]) => {
    tensors[key] = tf.randomNormal(shape, 0, 0.5, 'float32', seed++);
  };
  put(`${prefix}embeddings.word_embeddings.weight`, [V, H]);
  put(`${prefix}embeddings.position_embeddings.weight`, [P, H]);
  put(`${prefix}embeddings.token_type_embeddings.weight`, [2, H]);
  put(`${prefix}embeddings.LayerNorm.weight`, [H]);
  put(`${prefix}embeddings.LayerNorm.bias`, [H]);
  for (let l = 0; l < LAYERS; l++) {
    const layer = `${prefix}encoder.layer.${l}`;
    for (const name of ['query', 'key', 'value']) {
      put(`${layer}.attention.self.${name}.weight`, [H, H]);
      put(`${layer}.attention.self.${name}.bias`, [H]);
    }
    put(`${layer}.attention.output.dense.weight`, [H, H]);
    put(`${layer}.attention.output.dense.bias`, [H]);
    put(`${layer}.attention.output.LayerNorm.weight`, [H]);
    put(`${layer}.attention.output.LayerNorm.bias`, [H]);
    put(`${layer}.intermediate.dense.weight`, [I, H]);
    put(`${layer}.intermediate.dense.bias`, [I]);
    put(`${layer}.output.dense.weight`, [H, I]);
    put(`${layer}.output.dense.bias`, [H]);
    put(`${layer}.output.LayerNorm.weight`, [H]);
    put(`${layer}.output.LayerNorm.bias`, [H]);
  }
  put(`${prefix}pooler.dense.weight`, [H, H]);
  put(`${prefix}pooler.dense.bias`, [H]);
  put('classifier.weight', [LABELS, H]);
  put('classifier.bias', [LABELS]);
  return tensors;
}

/** [our parameter path, HF key, transpose], written out independently of the loader's table. */
function directAssignments(prefix = 'bert.', head: 'classifier' | 'mlm' = 'classifier'): Array<[string, string, boolean]> {
  const rows: Array<[string, string, boolean]> = [
    ['embeddings.word.weight', `${prefix}embeddings.word_embeddings.weight`, false],
    ['embeddings.position.weight', `${prefix}embeddings.position_embeddings.weight`, false],
    ['embeddings.tokenType.weight', `${prefix}embeddings.token_type_embeddings.weight`, false],
    ['embeddings.norm.gamma', `${prefix}embeddings.LayerNorm.weight`, false],
    ['embeddings.norm.beta', `${prefix}embeddings.LayerNorm.bias`, false],
  ];
  for (let l = 0; l < LAYERS; l++) {
    const ours = `encoder.layers.${l}`;
    const hf = `${prefix}encoder.layer.${l}`;
    rows.push(
      [`${ours}.attention.query.weight`, `${hf}.attention.self.query.weight`, true],
      [`${ours}.attention.query.bias`, `${hf}.attention.self.query.bias`, false],
      [`${ours}.attention.key.weight`, `${hf}.attention.self.key.weight`, true],
      [`${ours}.attention.key.bias`, `${hf}.attention.self.key.bias`, false],
      [`${ours}.attention.value.weight`, `${hf}.attention.self.value.weight`, true],
      [`${ours}.attention.value.bias`, `${hf}.attention.self.value.bias`, false],
      [`${ours}.attention.output.weight`, `${hf}.attention.output.dense.weight`, true],
      [`${ours}.attention.output.bias`, `${hf}.attention.output.dense.bias`, false],
      [`${ours}.attentionNorm.gamma`, `${hf}.attention.output.LayerNorm.weight`, false],
      [`${ours}.attentionNorm.beta`, `${hf}.attention.output.LayerNorm.bias`, false],
      [`${ours}.ffn.up.weight`, `${hf}.intermediate.dense.weight`, true],
      [`${ours}.ffn.up.bias`, `${hf}.intermediate.dense.bias`, false],
      [`${ours}.ffn.down.weight`, `${hf}.output.dense.weight`, true],
      [`${ours}.ffn.down.bias`, `${hf}.output.dense.bias`, false],
      [`${ours}.ffnNorm.gamma`, `${hf}.output.LayerNorm.weight`, false],
      [`${ours}.ffnNorm.beta`, `${hf}.output.LayerNorm.bias`, false],
    );
  }
  if (head === 'classifier') {
    rows.push(
      ['pooler.dense.weight', `${prefix}pooler.dense.weight`, true],
      ['pooler.dense.bias', `${prefix}pooler.dense.bias`, false],
      ['head.classifier.weight', 'classifier.weight', true],
      ['head.classifier.bias', 'classifier.bias', false],
    );
  } else {
    rows.push(
      ['head.transform.weight', 'cls.predictions.transform.dense.weight', true],
      ['head.transform.bias', 'cls.predictions.transform.dense.bias', false],
      ['head.norm.gamma', 'cls.predictions.transform.LayerNorm.weight', false],
      ['head.norm.beta', 'cls.predictions.transform.LayerNorm.bias', false],
      ['head.bias', 'cls.predictions.bias', false],
    );
  }
  return rows;
}

function assignDirectly(model: BertModel, tensors: Record<string, tf.Tensor>, rows: Array<[string, string, boolean]>): void {
  for (const [path, key, transpose] of rows) {
    const value = tensors[key]!;
    tf.tidy(() => model.getParameter(path).assign(transpose ? value.transpose() : value));
  }
}

async function writeCheckpoint(config: Record<string, unknown>, tensors: Record<string, tf.Tensor>, dir = directory): Promise<void> {
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
}

const inputs = () => ({
  inputIds: tf.tensor([[1, 5, 7, 2, 0], [3, 4, 19, 0, 0]], [2, 5], 'int32'),
  attentionMask: tf.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], [2, 5], 'int32'),
  tokenTypeIds: tf.tensor([[0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], [2, 5], 'int32'),
});

function logitsOf(model: BertModel): number[] {
  model.eval();
  const batch = inputs();
  const output = model.forward(batch);
  const values = [...output.logits.dataSync()];
  tf.dispose([output.logits, output.lastHiddenState, ...Object.values(batch)]);
  return values;
}

function expectClose(actual: number[], expected: number[], tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(tolerance);
}

async function mismatchOf(promise: Promise<unknown>): Promise<{ missing: string[]; unexpected: string[]; mismatched: string[] }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(PeftError.hasCode(error, 'checkpoint-mismatch')).toBe(true);
  return (error as PeftError).value as { missing: string[]; unexpected: string[]; mismatched: string[] };
}

describe('loadHfBert', () => {
  it('loads a hand-written BertForSequenceClassification checkpoint: logits equal a directly assigned model', async () => {
    const tensors = handWrittenCheckpoint();
    await writeCheckpoint(hfConfig('BertForSequenceClassification', { id2label: { 0: 'a', 1: 'b', 2: 'c' } }), tensors);
    const { model, info } = await loadHfBert(directory);
    expect(model.task).toBe('sequence-classification');
    expect(model.config.numLabels).toBe(LABELS);
    expect(info.newlyInitialized).toEqual([]);
    expect(info.prefix).toBe('bert.');

    const reference = new BertModel({ ...ourConfig, task: 'sequence-classification', numLabels: LABELS });
    const fresh = logitsOf(reference);
    assignDirectly(reference, tensors, directAssignments());
    const expected = logitsOf(reference);
    expectClose(logitsOf(model), expected);
    expect(Math.max(...expected.map((v, i) => Math.abs(v - fresh[i]!)))).toBeGreaterThan(1e-2);
    model.dispose();
    reference.dispose();
    tf.dispose(Object.values(tensors));
  });

  it('loads a bare BertModel checkpoint (no prefix, legacy gamma/beta, position_ids) and reports the new head', async () => {
    const tensors = handWrittenCheckpoint('');
    delete tensors['classifier.weight'];
    delete tensors['classifier.bias'];
    tensors['embeddings.LayerNorm.gamma'] = tensors['embeddings.LayerNorm.weight']!;
    tensors['embeddings.LayerNorm.beta'] = tensors['embeddings.LayerNorm.bias']!;
    delete tensors['embeddings.LayerNorm.weight'];
    delete tensors['embeddings.LayerNorm.bias'];
    tensors['embeddings.position_ids'] = tf.tensor([Array.from({ length: P }, (_, i) => i)], [1, P], 'int32');
    await writeCheckpoint(hfConfig('BertModel'), tensors);
    const { model, info } = await loadHfBert(directory, { task: 'sequence-classification', numLabels: 2 });
    expect(info.prefix).toBe('');
    expect(info.newlyInitialized).toEqual(['head.classifier.weight', 'head.classifier.bias']);
    expect(info.ignoredKeys).toEqual(['embeddings.position_ids']);
    expect(model.getParameter('embeddings.norm.gamma').value.arraySync()).toEqual(tensors['embeddings.LayerNorm.gamma']!.arraySync());
    expect(model.getParameter('encoder.layers.1.ffn.up.weight').value.arraySync()).toEqual(tensors['encoder.layer.1.intermediate.dense.weight']!.transpose().arraySync());
    model.dispose();
    tf.dispose(Object.values(tensors));
  });

  it('loads a BertForPreTraining checkpoint for classification, reporting the unused MLM/NSP heads', async () => {
    const tensors = handWrittenCheckpoint();
    delete tensors['classifier.weight'];
    delete tensors['classifier.bias'];
    tensors['cls.predictions.bias'] = tf.zeros([V]);
    tensors['cls.predictions.transform.dense.weight'] = tf.zeros([H, H]);
    tensors['cls.seq_relationship.weight'] = tf.zeros([2, H]);
    await writeCheckpoint(hfConfig('BertForPreTraining'), tensors);
    const { model, info } = await loadHfBert(directory, { task: 'sequence-classification' });
    expect(info.unusedWeights.sort()).toEqual(['cls.predictions.bias', 'cls.predictions.transform.dense.weight', 'cls.seq_relationship.weight']);
    expect(info.newlyInitialized).toEqual(['head.classifier.weight', 'head.classifier.bias']);
    model.dispose();
    tf.dispose(Object.values(tensors));
  });

  it('loads a masked-LM checkpoint with its decoder tied to the word embeddings', async () => {
    const tensors = handWrittenCheckpoint();
    delete tensors['classifier.weight'];
    delete tensors['classifier.bias'];
    delete tensors['bert.pooler.dense.weight'];
    delete tensors['bert.pooler.dense.bias'];
    let seed = 100;
    for (const [key, shape] of [
      ['cls.predictions.transform.dense.weight', [H, H]],
      ['cls.predictions.transform.dense.bias', [H]],
      ['cls.predictions.transform.LayerNorm.weight', [H]],
      ['cls.predictions.transform.LayerNorm.bias', [H]],
      ['cls.predictions.bias', [V]],
    ] as const) {
      tensors[key] = tf.randomNormal([...shape], 0, 0.5, 'float32', seed++);
    }
    tensors['cls.predictions.decoder.weight'] = tensors['bert.embeddings.word_embeddings.weight']!.clone();
    await writeCheckpoint(hfConfig('BertForMaskedLM'), tensors);
    const { model, info } = await loadHfBert(directory);
    expect(model.task).toBe('masked-lm');
    expect(info.tiedKeys).toEqual(['cls.predictions.decoder.weight']);
    const reference = new BertModel({ ...ourConfig, task: 'masked-lm' });
    assignDirectly(reference, tensors, directAssignments('bert.', 'mlm'));
    expectClose(logitsOf(model), logitsOf(reference));
    model.dispose();
    reference.dispose();
    tf.dispose(Object.values(tensors));
  });

  it('lists missing, unexpected and mismatched keys, builds nothing that leaks', async () => {
    const tensors = handWrittenCheckpoint();
    delete tensors['bert.encoder.layer.1.output.dense.bias'];
    tensors['bert.encoder.layer.2.output.dense.bias'] = tf.zeros([H]);
    tensors['bert.encoder.layer.0.intermediate.dense.weight'] = tf.zeros([H, I]);
    await writeCheckpoint(hfConfig('BertForSequenceClassification', { num_labels: LABELS }), tensors);
    const before = tf.memory().numTensors;
    const problems = await mismatchOf(loadHfBert(directory));
    expect(problems.missing).toEqual(['bert.encoder.layer.1.output.dense.bias']);
    expect(problems.unexpected).toEqual(['bert.encoder.layer.2.output.dense.bias']);
    expect(problems.mismatched).toEqual([
      'bert.encoder.layer.0.intermediate.dense.weight: checkpoint [8, 16], model needs [16, 8] (encoder.layers.0.ffn.up.weight)',
    ]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(tensors));
  });

  it('a classifier with another label count is a shape mismatch, not a silent re-initialisation', async () => {
    const tensors = handWrittenCheckpoint();
    await writeCheckpoint(hfConfig('BertForSequenceClassification', { num_labels: LABELS }), tensors);
    const problems = await mismatchOf(loadHfBert(directory, { numLabels: 5 }));
    expect(problems.mismatched.map((line) => line.split(':')[0])).toEqual(['classifier.weight', 'classifier.bias']);
    const { model, info } = await loadHfBert(directory, { numLabels: 5, reinitializeMismatchedHeads: true });
    expect(info.newlyInitialized).toEqual(['head.classifier.weight', 'head.classifier.bias']);
    expect(model.getParameter('head.classifier.weight').shape).toEqual([H, 5]);
    expect(model.getParameter('pooler.dense.bias').value.arraySync()).toEqual(tensors['bert.pooler.dense.bias']!.arraySync());
    model.dispose();
    tf.dispose(Object.values(tensors));
  });

  it('refuses config settings the reference model cannot reproduce', async () => {
    await writeFile(join(directory, 'config.json'), JSON.stringify(hfConfig('BertModel', { position_embedding_type: 'relative_key' })));
    await expect(loadHfBert(directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-config') && e.field === 'position_embedding_type');
    await writeFile(join(directory, 'config.json'), JSON.stringify(hfConfig('BertModel', { hidden_act: 'quick_gelu' })));
    await expect(loadHfBert(directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-config') && e.field === 'hidden_act');
    await writeFile(join(directory, 'config.json'), JSON.stringify({ ...hfConfig('BertModel'), hidden_size: 'eight' }));
    await expect(loadHfBert(directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-config') && e.field === 'hidden_size');
  });
});

describe('saveHfBert', () => {
  it('writes HF names and layout that the hand-written reader expects, and round-trips logits exactly', async () => {
    const model = new BertModel({ ...ourConfig, task: 'regression', activation: 'gelu_new' });
    await saveHfBert(model, directory);
    const config = JSON.parse(await readFile(join(directory, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      hidden_size: H,
      num_hidden_layers: LAYERS,
      intermediate_size: I,
      hidden_act: 'gelu_new',
      problem_type: 'regression',
      id2label: { 0: 'LABEL_0' },
    });
    const bytes = new Uint8Array(await readFile(join(directory, 'model.safetensors')));
    const header = parseSafetensorsHeader(bytes);
    expect(header.metadata).toEqual({ format: 'pt' });
    const shapes = Object.fromEntries(header.entries.map((e) => [e.name, e.shape]));
    const expectedKeys = directAssignments().map(([, key]) => key);
    expect(Object.keys(shapes).sort()).toEqual([...expectedKeys].sort());
    expect(shapes['bert.encoder.layer.0.intermediate.dense.weight']).toEqual([I, H]);
    expect(shapes['classifier.weight']).toEqual([1, H]);

    const { model: loaded, info } = await loadHfBert(directory);
    expect(loaded.task).toBe('regression');
    expect(info.newlyInitialized).toEqual([]);
    expect(logitsOf(loaded)).toEqual(logitsOf(model));
    model.dispose();
    loaded.dispose();
  });

  it('round-trips a masked-LM model without storing the tied decoder', async () => {
    const model = new BertModel({ ...ourConfig, task: 'masked-lm' });
    await saveHfBert(model, directory);
    const header = parseSafetensorsHeader(new Uint8Array(await readFile(join(directory, 'model.safetensors'))));
    const names = header.entries.map((e) => e.name);
    expect(names).toContain('cls.predictions.bias');
    expect(names.some((name) => name.startsWith('cls.predictions.decoder'))).toBe(false);
    const { model: loaded } = await loadHfBert(directory);
    expect(logitsOf(loaded)).toEqual(logitsOf(model));
    model.dispose();
    loaded.dispose();
  });

  it('refuses a pre-LN model (HF BERT is post-LN)', async () => {
    const model = new BertModel({ ...ourConfig, preLayerNorm: true });
    await expect(saveHfBert(model, directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-argument') && e.field === 'config.preLayerNorm');
    model.dispose();
  });
});
