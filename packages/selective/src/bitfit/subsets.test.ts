import { Linear, Module, PeftError, createGpt, setGlobalSeed, tf } from '@peftjs/core';
import { createConformanceBert } from '@peftjs/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countEntries, resolveBitFitSubset } from './subsets';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// The conformance BERT: hidden h = 16, intermediate m = 32, 2 layers, 3 labels, post-LN.
const h = 16;
const m = 32;
const layers = 2;
// Per layer: b_q, b_k, b_v, b_o (4h), b_m2 = ffn.up (m), b_m3 = ffn.down (h), b_LN1 + b_LN2 (2h).
const biasPerLayer = 4 * h + m + h + 2 * h;
// Plus the embedding LayerNorm shift and the pooler bias (the classifier bias is the head's).
const allBiasTerms = layers * biasPerLayer + h + h;
const queryAndIntermediate = layers * (h + m);
// Weight matrices of the blocks (4 h×h, h×m, m×h) and the pooler (h×h).
const weightEntries = layers * (4 * h * h + 2 * h * m) + h * h;

const bert = createConformanceBert();
afterAll(() => bert.dispose());

const count = (subset: Parameters<typeof resolveBitFitSubset>[1]['subset'], extra: { budget?: number; seed?: number } = {}) =>
  countEntries(resolveBitFitSubset(bert, { subset, seed: extra.seed ?? 0, budget: extra.budget }));

describe('BitFit subsets by role and tensor kind', () => {
  it('counts every bias term (LayerNorm shifts included, head excluded) for "all"', () => {
    expect(count('all')).toBe(allBiasTerms);
    const paths = resolveBitFitSubset(bert, { subset: 'all', seed: 0 }).map((selection) => selection.path);
    expect(paths).toContain('encoder.layers.1.attentionNorm.beta');
    expect(paths).toContain('pooler.dense.bias');
    expect(paths.some((path) => path.startsWith('head.'))).toBe(false);
    expect(paths.some((path) => path.endsWith('.weight') || path.endsWith('.gamma'))).toBe(false);
  });

  it('maps b_q to attention.query and b_m2 to ffn.up (the GELU intermediate), whole tensors', () => {
    const selections = resolveBitFitSubset(bert, { subset: 'query-and-intermediate', seed: 0 });
    expect(selections.map((selection) => selection.path)).toEqual([
      'encoder.layers.0.attention.query.bias',
      'encoder.layers.0.ffn.up.bias',
      'encoder.layers.1.attention.query.bias',
      'encoder.layers.1.ffn.up.bias',
    ]);
    expect(selections.every((selection) => selection.indices === undefined)).toBe(true);
    expect(countEntries(selections)).toBe(queryAndIntermediate);
  });

  it('gives the complement for "all-except-query-and-intermediate"', () => {
    expect(count('all-except-query-and-intermediate')).toBe(allBiasTerms - queryAndIntermediate);
    const paths = resolveBitFitSubset(bert, { subset: 'all-except-query-and-intermediate', seed: 0 }).map((selection) => selection.path);
    expect(paths.some((path) => path.includes('query') || path.includes('ffn.up'))).toBe(false);
  });

  it('selects b_LN1 and b_LN2 (the block norms\' shifts) for "layernorm"', () => {
    const paths = resolveBitFitSubset(bert, { subset: 'layernorm', seed: 0 }).map((selection) => selection.path);
    expect(paths).toEqual(['encoder.layers.0.attentionNorm.beta', 'encoder.layers.0.ffnNorm.beta', 'encoder.layers.1.attentionNorm.beta', 'encoder.layers.1.ffnNorm.beta']);
    expect(count('layernorm')).toBe(layers * 2 * h);
  });

  it('draws exactly `budget` distinct bias entries for "random-entries", b_q + b_m2 many by default, reproducibly', () => {
    expect(count('random-entries')).toBe(queryAndIntermediate);
    const a = resolveBitFitSubset(bert, { subset: 'random-entries', seed: 5, budget: 50 });
    const b = resolveBitFitSubset(bert, { subset: 'random-entries', seed: 5, budget: 50 });
    const c = resolveBitFitSubset(bert, { subset: 'random-entries', seed: 6, budget: 50 });
    expect(countEntries(a)).toBe(50);
    const key = (selections: typeof a) => selections.map((s) => `${s.path}:${[...(s.indices ?? [])].join(',')}`).join(' ');
    expect(key(a)).toBe(key(b));
    expect(key(a)).not.toBe(key(c));
    for (const selection of a) {
      const indices = [...selection.indices!];
      expect(new Set(indices).size).toBe(indices.length);
      expect(indices).toEqual([...indices].sort((x, y) => x - y));
      expect(Math.max(...indices)).toBeLessThan(selection.parameter.size);
      expect(selection.parameter.kind === 'bias' || selection.parameter.kind === 'beta').toBe(true);
    }
    // 50 of 320 entries spread uniformly land in many tensors, not one.
    expect(a.length).toBeGreaterThan(5);
  });

  it('samples weight-matrix entries at the bias count for "random-weight-entries"', () => {
    expect(count('random-weight-entries')).toBe(allBiasTerms);
    const selections = resolveBitFitSubset(bert, { subset: 'random-weight-entries', seed: 1 });
    expect(selections.every((selection) => selection.parameter.kind === 'weight' && !selection.path.startsWith('head.') && !selection.path.startsWith('embeddings.'))).toBe(true);
  });

  it('takes whole rows and columns within the budget for "random-rows-columns"', () => {
    const selections = resolveBitFitSubset(bert, { subset: 'random-rows-columns', seed: 2 });
    const total = countEntries(selections);
    expect(total).toBeLessThanOrEqual(allBiasTerms);
    // It falls short by less than one line (the shortest is h = 16 entries).
    expect(total).toBeGreaterThan(allBiasTerms - h);
    for (const selection of selections) {
      const [rows, columns] = selection.parameter.shape as [number, number];
      const chosen = new Set(selection.indices);
      const fullRows = Array.from({ length: rows }, (_, r) => r).filter((r) => Array.from({ length: columns }, (_, c) => r * columns + c).every((i) => chosen.has(i)));
      const fullColumns = Array.from({ length: columns }, (_, c) => c).filter((c) => Array.from({ length: rows }, (_, r) => r * columns + c).every((i) => chosen.has(i)));
      // Every chosen entry lies on a fully chosen row or column.
      for (const index of chosen) expect(fullRows.includes(Math.floor(index / columns)) || fullColumns.includes(index % columns)).toBe(true);
    }
  });

  it('rejects a budget larger than the pool', () => {
    expect(() => count('random-entries', { budget: allBiasTerms + 1 })).toThrowError(expect.objectContaining({ code: 'invalid-config', field: 'budget' }));
    expect(() => count('random-weight-entries', { budget: weightEntries + 1 })).toThrowError(expect.objectContaining({ code: 'invalid-config', field: 'budget' }));
    expect(count('random-weight-entries', { budget: weightEntries })).toBe(weightEntries);
  });

  it('takes the first third of a fused qkv bias as b_q on GPT-2', () => {
    setGlobalSeed(1);
    const gpt = createGpt({ vocabSize: 30, hiddenSize: h, numLayers: layers, numHeads: 2, intermediateSize: m, maxPositions: 8, task: 'sequence-classification' });
    const selections = resolveBitFitSubset(gpt, { subset: 'query-and-intermediate', seed: 0 });
    const qkv = selections.find((selection) => selection.path === 'decoder.layers.0.attention.qkv.bias')!;
    expect([...qkv.indices!]).toEqual(Array.from({ length: h }, (_, i) => i));
    expect(countEntries(selections)).toBe(layers * (h + m));
    const rest = resolveBitFitSubset(gpt, { subset: 'all-except-query-and-intermediate', seed: 0 }).find((selection) => selection.path === 'decoder.layers.0.attention.qkv.bias')!;
    expect([...rest.indices!]).toEqual(Array.from({ length: 2 * h }, (_, i) => h + i));
    // GPT-2: qkv (3h), c_proj (h), c_fc (m), mlp c_proj (h), ln_1 + ln_2 shifts (2h) per layer, plus ln_f's shift.
    expect(countEntries(resolveBitFitSubset(gpt, { subset: 'all', seed: 0 }))).toBe(layers * (3 * h + h + m + h + 2 * h) + h);
    gpt.dispose();
  });

  it('names addZeroBiases when the model has no bias terms', () => {
    class NoBias extends Module {
      constructor() {
        super();
        this.registerModule('query', new Linear(4, 4, { bias: false, role: 'attention.query' }));
      }
      forward(x: tf.Tensor): tf.Tensor {
        return this.child('query').forward(x);
      }
    }
    const model = new NoBias();
    try {
      resolveBitFitSubset(model, { subset: 'all', seed: 0 });
      expect.unreachable();
    } catch (error) {
      expect(PeftError.hasCode(error, 'selector-no-match')).toBe(true);
      expect((error as PeftError).field).toBe('addZeroBiases');
      expect((error as Error).message).toContain('addZeroBiases: true');
    }
    model.dispose();
  });
});
