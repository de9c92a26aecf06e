import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { Embedding } from '../nn/embedding';
import { LayerNorm } from '../nn/layer-norm';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { assignHfTensors, collectHfTensors, expandHfRules, hfModuleNameFor, type HfCheckpointSpec, type HfModuleRule } from './hf-mapping';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A plain container to build module trees with the reference models' paths. */
class Container extends Module<[], null> {
  constructor(children: Record<string, Module<[], null> | Linear | Embedding | LayerNorm>) {
    super();
    for (const [name, child] of Object.entries(children)) this.registerModule(name, child);
  }

  forward(): null {
    return null;
  }
}

/** A miniature model: word embedding [5, 3], a norm, two layers with one Linear 3->2, a pooler, a classifier. */
function tinyModel(withClassifier = true): Container {
  const layers = new Container({ '0': new Container({ query: new Linear(3, 2) }), '1': new Container({ query: new Linear(3, 2, { bias: false }) }) });
  return new Container({
    embeddings: new Container({ word: new Embedding(5, 3), norm: new LayerNorm(3) }),
    encoder: new Container({ layers }),
    pooler: new Container({ dense: new Linear(3, 3) }),
    ...(withClassifier ? { head: new Container({ classifier: new Linear(3, 2) }) } : {}),
  });
}

const RULES: HfModuleRule[] = [
  { module: 'embeddings.word', hf: 'emb.word', kind: 'embedding', group: 'backbone' },
  { module: 'embeddings.norm', hf: 'emb.LayerNorm', kind: 'layer-norm', group: 'backbone' },
  { module: 'encoder.layers.{layer}.query', hf: 'layer.{layer}.q', kind: 'linear', group: 'backbone' },
  { module: 'pooler.dense', hf: 'pooler.dense', kind: 'linear', group: 'pooler' },
  { module: 'head.classifier', hf: 'classifier', kind: 'linear', group: 'head', absolute: true },
];

const SPEC: HfCheckpointSpec = {
  rules: RULES,
  prefix: 'base.',
  tied: [{ hfKey: 'decoder.weight', sameAs: '{prefix}emb.word.weight' }],
  ignored: [/^emb\.position_ids$/],
  otherHeads: [/^cls\./],
};

const range = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i / 10);

/** A checkpoint in HF layout, written key by key: Linear weights as [out, in]. */
function checkpoint(prefix = 'base.'): Record<string, tf.Tensor> {
  return {
    [`${prefix}emb.word.weight`]: tf.tensor(range(15), [5, 3]),
    [`${prefix}emb.LayerNorm.weight`]: tf.tensor([2, 3, 4]),
    [`${prefix}emb.LayerNorm.bias`]: tf.tensor([-1, 0, 1]),
    [`${prefix}layer.0.q.weight`]: tf.tensor([[1, 2, 3], [4, 5, 6]]),
    [`${prefix}layer.0.q.bias`]: tf.tensor([7, 8]),
    [`${prefix}layer.1.q.weight`]: tf.tensor([[0, 1, 0], [1, 0, 0]]),
    [`${prefix}pooler.dense.weight`]: tf.tensor(range(9, 1), [3, 3]),
    [`${prefix}pooler.dense.bias`]: tf.tensor([0, 0, 1]),
    'classifier.weight': tf.tensor([[1, 0, 1], [0, 1, 0]]),
    'classifier.bias': tf.tensor([0.5, -0.5]),
  };
}

function mismatchOf(run: () => unknown): PeftError {
  try {
    run();
  } catch (error) {
    if (PeftError.hasCode(error, 'checkpoint-mismatch')) return error;
    throw error;
  }
  throw new Error('expected a checkpoint-mismatch error');
}

describe('assignHfTensors', () => {
  it('assigns every tensor, transposing Linear weights from [out, in]', () => {
    const model = tinyModel();
    const report = assignHfTensors(model, checkpoint(), SPEC, 2);
    expect(model.getParameter('encoder.layers.0.query.weight').value.arraySync()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(model.getParameter('encoder.layers.0.query.bias').value.arraySync()).toEqual([7, 8]);
    expect(model.getParameter('encoder.layers.1.query.weight').value.arraySync()).toEqual([[0, 1], [1, 0], [0, 0]]);
    expect(model.getParameter('embeddings.norm.gamma').value.arraySync()).toEqual([2, 3, 4]);
    expect(model.getParameter('embeddings.norm.beta').value.arraySync()).toEqual([-1, 0, 1]);
    expect(model.getParameter('head.classifier.weight').value.arraySync()).toEqual([[1, 0], [0, 1], [1, 0]]);
    expect(report).toEqual({ newlyInitialized: [], unusedWeights: [], ignoredKeys: [], tiedKeys: [], prefix: 'base.' });
  });

  it('loads a bare-backbone checkpoint (no prefix) and reports heads it had to initialise', () => {
    const model = tinyModel();
    const tensors = checkpoint('');
    delete tensors['classifier.weight'];
    delete tensors['classifier.bias'];
    const before = model.getParameter('head.classifier.weight').value.arraySync();
    const report = assignHfTensors(model, tensors, SPEC, 2);
    expect(report.prefix).toBe('');
    expect(report.newlyInitialized).toEqual(['head.classifier.weight', 'head.classifier.bias']);
    expect(model.getParameter('head.classifier.weight').value.arraySync()).toEqual(before);
    expect((model.getParameter('embeddings.word.weight').value.arraySync() as number[][])[4]).toEqual([1.2, 1.3, 1.4].map(Math.fround));
  });

  it('accepts legacy gamma/beta names, ignored buffers, other heads and equal tied copies', () => {
    const model = tinyModel();
    const tensors = checkpoint();
    tensors['base.emb.LayerNorm.gamma'] = tensors['base.emb.LayerNorm.weight']!;
    tensors['base.emb.LayerNorm.beta'] = tensors['base.emb.LayerNorm.bias']!;
    delete tensors['base.emb.LayerNorm.weight'];
    delete tensors['base.emb.LayerNorm.bias'];
    tensors['base.emb.position_ids'] = tf.tensor([[0, 1, 2]], [1, 3], 'int32');
    tensors['cls.seq_relationship.weight'] = tf.zeros([2, 3]);
    tensors['decoder.weight'] = tensors['base.emb.word.weight']!.clone();
    const report = assignHfTensors(model, tensors, SPEC, 2);
    expect(model.getParameter('embeddings.norm.gamma').value.arraySync()).toEqual([2, 3, 4]);
    expect(report.ignoredKeys).toEqual(['base.emb.position_ids']);
    expect(report.unusedWeights).toEqual(['cls.seq_relationship.weight']);
    expect(report.tiedKeys).toEqual(['decoder.weight']);
  });

  it('uses a tied copy when the original is absent', () => {
    const model = tinyModel();
    const tensors = checkpoint();
    tensors['decoder.weight'] = tensors['base.emb.word.weight']!;
    delete tensors['base.emb.word.weight'];
    assignHfTensors(model, tensors, SPEC, 2);
    expect((model.getParameter('embeddings.word.weight').value.arraySync() as number[][])[0]).toEqual([0, 0.1, 0.2].map(Math.fround));
  });

  it('reports missing, unexpected and mismatched keys together and loads nothing', () => {
    const model = tinyModel();
    const gammaBefore = model.getParameter('embeddings.norm.gamma').value.arraySync();
    const tensors = checkpoint();
    delete tensors['base.layer.0.q.bias'];
    tensors['base.layer.2.q.weight'] = tf.zeros([2, 3]);
    tensors['base.layer.1.q.bias'] = tf.zeros([2]);
    tensors['classifier.weight'] = tf.zeros([3, 3]);
    tensors['decoder.weight'] = tf.ones([5, 3]);
    const error = mismatchOf(() => assignHfTensors(model, tensors, SPEC, 2));
    const value = error.value as { missing: string[]; unexpected: string[]; mismatched: string[] };
    expect(value.missing).toEqual(['base.layer.0.q.bias']);
    expect(value.unexpected.sort()).toEqual(['base.layer.1.q.bias', 'base.layer.2.q.weight']);
    expect(value.mismatched).toHaveLength(2);
    expect(value.mismatched[0]).toMatch(/^classifier\.weight: checkpoint \[3, 3\], model needs \[2, 3\]/);
    expect(value.mismatched[1]).toMatch(/^decoder\.weight: must equal/);
    expect(error.message).toMatch(/missing keys: base\.layer\.0\.q\.bias/);
    expect(model.getParameter('embeddings.norm.gamma').value.arraySync()).toEqual(gammaBefore);
  });

  it('a classifier in the checkpoint but not in the model is unexpected unless it is a known other head', () => {
    const model = tinyModel(false);
    const error = mismatchOf(() => assignHfTensors(model, checkpoint(), SPEC, 2));
    expect((error.value as { unexpected: string[] }).unexpected).toEqual(['classifier.weight', 'classifier.bias']);
    const report = assignHfTensors(model, checkpoint(), { ...SPEC, otherHeads: [/^classifier\./] }, 2);
    expect(report.unusedWeights).toEqual(['classifier.weight', 'classifier.bias']);
  });

  it('does not leak tensors', () => {
    const model = tinyModel();
    const tensors = checkpoint();
    const before = tf.memory().numTensors;
    assignHfTensors(model, tensors, SPEC, 2);
    assignHfTensors(model, tensors, SPEC, 2);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('collectHfTensors and names', () => {
  it('collects what assignHfTensors reads, in HF layout', () => {
    const model = tinyModel();
    const source = checkpoint();
    assignHfTensors(model, source, SPEC, 2);
    const collected = collectHfTensors(model, RULES, 'base.', 2);
    expect(Object.keys(collected).sort()).toEqual(Object.keys(source).sort());
    for (const [key, tensor] of Object.entries(collected)) expect(tensor.arraySync()).toEqual(source[key]!.arraySync());
  });

  it('maps module paths to HF names and back through the same table', () => {
    expect(hfModuleNameFor(RULES, 'encoder.layers.12.query', 'base.')).toBe('base.layer.12.q');
    expect(hfModuleNameFor(RULES, 'head.classifier', 'base.')).toBe('classifier');
    expect(hfModuleNameFor(RULES, 'encoder.layers.x.query', 'base.')).toBeUndefined();
    expect(hfModuleNameFor(RULES, 'embeddings.prompt', 'base.')).toBeUndefined();
    expect(expandHfRules(RULES, 2).map((r) => r.hf)).toEqual(['emb.word', 'emb.LayerNorm', 'layer.0.q', 'layer.1.q', 'pooler.dense', 'classifier']);
  });
});
