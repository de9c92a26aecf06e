import { beforeAll, describe, expect, it } from 'vitest';
import type { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { MultiHeadAttention, type MultiHeadAttentionOptions } from './multi-head-attention';
import type { PrefixKeyValue } from './slots';
import { checkGradients, expectClose, randomTensor, values, weightedSum } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

type Matrix = number[][];

/** A prefix provider with fixed (or trainable) key/value rows [1, P, hidden], tiled over the batch. */
class FixedPrefix extends Module<[{ batchSize: number }], PrefixKeyValue> {
  readonly length: number;
  constructor(key: tf.Tensor, value: tf.Tensor) {
    super();
    this.length = key.shape[1]!;
    this.registerParameter('key', new Parameter(key));
    this.registerParameter('value', new Parameter(value));
  }
  forward({ batchSize }: { batchSize: number }): PrefixKeyValue {
    return {
      key: tf.tile(this.parameter('key').value, [batchSize, 1, 1]),
      value: tf.tile(this.parameter('value').value, [batchSize, 1, 1]),
    };
  }
}

function options(overrides: Partial<MultiHeadAttentionOptions> = {}): MultiHeadAttentionOptions {
  return { hiddenSize: 8, numHeads: 2, attentionDropout: 0, outputDropout: 0, fusedQkv: false, causal: false, initStd: 0.3, ...overrides };
}

function project(x: Matrix, weight: Matrix, bias: number[], from = 0, width = bias.length): Matrix {
  return x.map((row) => Array.from({ length: width }, (_, o) => bias[from + o]! + row.reduce((sum, v, i) => sum + v * weight[i]![from + o]!, 0)));
}

function linearOf(attention: MultiHeadAttention, name: string): { weight: Matrix; bias: number[] } {
  const linear = attention.child<Linear>(name);
  return { weight: linear.weight.value.arraySync() as Matrix, bias: linear.bias!.value.arraySync() as number[] };
}

/**
 * Attention written out with loops, independently of the module: per example, per head, per
 * query, a softmax over the allowed keys only (prefix rows always allowed).
 */
function naiveAttention(
  attention: MultiHeadAttention,
  x: number[][][],
  mask: number[][] | undefined,
  prefix?: { key: number[][][]; value: number[][][] },
): number[][][] {
  const hidden = attention.hiddenSize;
  const headDim = attention.headDim;
  return x.map((sequence, b) => {
    let q: Matrix, k: Matrix, v: Matrix;
    if (attention.fusedQkv) {
      const { weight, bias } = linearOf(attention, 'qkv');
      q = project(sequence, weight, bias, 0, hidden);
      k = project(sequence, weight, bias, hidden, hidden);
      v = project(sequence, weight, bias, 2 * hidden, hidden);
    } else {
      const pick = (name: string) => {
        const { weight, bias } = linearOf(attention, name);
        return project(sequence, weight, bias);
      };
      [q, k, v] = [pick('query'), pick('key'), pick('value')];
    }
    const prefixLength = prefix ? prefix.key[b]!.length : 0;
    const keys = [...(prefix ? prefix.key[b]! : []), ...k];
    const vals = [...(prefix ? prefix.value[b]! : []), ...v];
    const attended = q.map((query, i) => {
      const out = new Array<number>(hidden).fill(0);
      for (let head = 0; head < attention.numHeads; head++) {
        const dims = Array.from({ length: headDim }, (_, d) => head * headDim + d);
        const allowed = keys.map((_, j) => (j < prefixLength || (mask ? mask[b]![j - prefixLength] === 1 : true)) && (!attention.causal || j <= prefixLength + i));
        const scores = keys.map((key, j) => (allowed[j] ? dims.reduce((s, d) => s + query[d]! * key[d]!, 0) / Math.sqrt(headDim) : -Infinity));
        const max = Math.max(...scores);
        const exps = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
        const total = exps.reduce((a, c) => a + c, 0);
        for (const d of dims) out[d] = exps.reduce((s, e, j) => s + (e / total) * vals[j]![d]!, 0);
      }
      return out;
    });
    const { weight, bias } = linearOf(attention, 'output');
    return project(attended, weight, bias);
  });
}

describe('MultiHeadAttention', () => {
  it('has the BERT children with their roles, or GPT-2 fused qkv', () => {
    const bert = new MultiHeadAttention(options());
    expect(bert.role).toBe('attention');
    expect(bert.children().map(([name, child]) => [name, child.role])).toEqual([
      ['query', 'attention.query'],
      ['key', 'attention.key'],
      ['value', 'attention.value'],
      ['output', 'attention.output'],
      ['attentionDropout', undefined],
      ['outputDropout', undefined],
    ]);
    const gpt = new MultiHeadAttention(options({ fusedQkv: true }));
    expect(gpt.child<Linear>('qkv').weight.shape).toEqual([8, 24]);
    expect(gpt.child('qkv').role).toBe('attention.qkv');
  });

  it('matches a naive loop implementation with a padding mask', () => {
    const attention = new MultiHeadAttention(options());
    const x = randomTensor([2, 4, 8], 1);
    const mask = [
      [1, 1, 1, 0],
      [1, 1, 0, 0],
    ];
    const out = attention.forward(x, { attentionMask: tf.tensor2d(mask) });
    expectClose(values(out), naiveAttention(attention, x.arraySync() as number[][][], mask).flat(2), 1e-5);
  });

  it('matches a naive implementation for GPT-2: fused qkv split into q | k | v columns, causal and padding masks', () => {
    const attention = new MultiHeadAttention(options({ fusedQkv: true, causal: true }));
    const x = randomTensor([2, 5, 8], 2);
    const mask = [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0],
    ];
    const out = attention.forward(x, { attentionMask: tf.tensor2d(mask) });
    expectClose(values(out), naiveAttention(attention, x.arraySync() as number[][][], mask).flat(2), 1e-5);
    // Causality: a later token never changes earlier outputs.
    const changed = x.arraySync() as number[][][];
    changed[0]![4] = changed[0]![4]!.map((v) => v + 3);
    const outChanged = attention.forward(tf.tensor3d(changed), { attentionMask: tf.tensor2d(mask) });
    expectClose(values(outChanged.slice([0, 0, 0], [1, 4, 8])), values(out.slice([0, 0, 0], [1, 4, 8])), 1e-6);
    expect(Math.abs(values(outChanged.slice([0, 4, 0], [1, 1, 8]))[0]! - values(out.slice([0, 4, 0], [1, 1, 8]))[0]!)).toBeGreaterThan(1e-4);
  });

  it('prepends prefix rows to keys and values, visible to every query, for BERT and causal GPT-2', () => {
    for (const fusedQkv of [false, true]) {
      const attention = new MultiHeadAttention(options({ fusedQkv, causal: fusedQkv }));
      const x = randomTensor([2, 3, 8], 3);
      const mask = [
        [1, 1, 1],
        [1, 0, 0],
      ];
      const key = randomTensor([1, 2, 8], 4);
      const value = randomTensor([1, 2, 8], 5);
      const before = attention.forward(x, { attentionMask: tf.tensor2d(mask) });
      attention.setPrefix(new FixedPrefix(key, value));
      const out = attention.forward(x, { attentionMask: tf.tensor2d(mask) });
      const tiled = (t: tf.Tensor) => tf.tile(t, [2, 1, 1]).arraySync() as number[][][];
      const expected = naiveAttention(attention, x.arraySync() as number[][][], mask, { key: tiled(key), value: tiled(value) });
      expectClose(values(out), expected.flat(2), 1e-5);
      expect(Math.max(...values(tf.abs(tf.sub(out, before))))).toBeGreaterThan(1e-3);
      attention.setPrefix(undefined);
      expect(attention.maybeChild('prefix')).toBeUndefined();
      expectClose(values(attention.forward(x, { attentionMask: tf.tensor2d(mask) })), values(before), 0);
    }
  });

  it('weights prefix rows and allowed keys by hand-computed softmax weights (zero scores: a plain average)', () => {
    const attention = new MultiHeadAttention(options({ causal: true }));
    // Zero query weights make every score 0, so each query averages the values it may see.
    attention.child<Linear>('query').weight.assign(tf.zeros([8, 8]));
    const value = attention.child<Linear>('value');
    value.weight.assign(tf.eye(8));
    const output = attention.child<Linear>('output');
    output.weight.assign(tf.eye(8));
    const x = randomTensor([1, 3, 8], 6);
    const prefixValue = randomTensor([1, 2, 8], 7);
    const rows = [...(prefixValue.arraySync() as number[][][])[0]!, ...(x.arraySync() as number[][][])[0]!];
    attention.setPrefix(new FixedPrefix(randomTensor([1, 2, 8], 8), prefixValue));
    const out = attention.forward(x, { attentionMask: tf.tensor2d([[1, 0, 1]]) }).arraySync() as number[][][];
    const average = (indices: number[]) => rows[0]!.map((_, d) => indices.reduce((s, j) => s + rows[j]![d]!, 0) / indices.length);
    // Query i sees the 2 prefix rows and real keys up to i; key 1 is padding.
    expectClose(out[0]![0]!, average([0, 1, 2]), 1e-5);
    expectClose(out[0]![1]!, average([0, 1, 2]), 1e-5);
    expectClose(out[0]![2]!, average([0, 1, 2, 4]), 1e-5);
  });

  it('accepts prefix rows as [batch, heads, P, headDim] and a zero-length prefix changes nothing', () => {
    const attention = new MultiHeadAttention(options());
    const x = randomTensor([2, 3, 8], 9);
    const key = randomTensor([2, 2, 8], 10);
    const value = randomTensor([2, 2, 8], 11);
    const asHeads = (t: tf.Tensor) => t.reshape([2, 2, 2, 4]).transpose([0, 2, 1, 3]);
    const plain = attention.forward(x, {});
    const provider = (k: tf.Tensor, v: tf.Tensor, length: number) =>
      Object.assign(
        new (class extends Module<[{ batchSize: number }], PrefixKeyValue> {
          forward(): PrefixKeyValue {
            return { key: k, value: v };
          }
        })(),
        { length },
      );
    attention.setPrefix(provider(key, value, 2));
    const flat = attention.forward(x, {});
    attention.setPrefix(provider(asHeads(key), asHeads(value), 2));
    expectClose(values(attention.forward(x, {})), values(flat), 1e-6);
    attention.setPrefix(provider(tf.zeros([2, 0, 8]), tf.zeros([2, 0, 8]), 0));
    expectClose(values(attention.forward(x, {})), values(plain), 1e-7);
  });

  it('rejects prefix rows of the wrong shape', () => {
    const attention = new MultiHeadAttention(options());
    attention.setPrefix(new FixedPrefix(tf.zeros([1, 2, 5]), tf.zeros([1, 2, 5])));
    expect(() => attention.forward(tf.zeros([1, 3, 8]), {})).toThrow(/prefix\.key\.shape/);
  });

  it('has gradients that match finite differences (inputs, projections, prefix; masked, causal, fused)', () => {
    for (const fusedQkv of [false, true]) {
      const attention = new MultiHeadAttention(options({ fusedQkv, causal: fusedQkv }));
      attention.setPrefix(new FixedPrefix(randomTensor([1, 2, 8], 12), randomTensor([1, 2, 8], 13)));
      const x = tf.variable(randomTensor([2, 3, 8], 14));
      const mask = tf.tensor2d([
        [1, 1, 1],
        [1, 1, 0],
      ]);
      const loss = () => weightedSum(attention.forward(x, { attentionMask: mask }));
      const variables = [['x', x] as const, ...attention.namedParameters().map(([name, p]) => [name, p.variable] as const)];
      expect(checkGradients(loss, variables, { samples: 2 })).toBe(variables.length * 2);
    }
  });

  it('leaks no tensors across repeated forward + gradients', () => {
    const attention = new MultiHeadAttention(options({ fusedQkv: true, causal: true, attentionDropout: 0.1, outputDropout: 0.1 }));
    attention.setPrefix(new FixedPrefix(randomTensor([1, 2, 8], 15), randomTensor([1, 2, 8], 16)));
    const x = randomTensor([2, 3, 8], 17);
    const mask = tf.tensor2d([[1, 1, 1], [1, 0, 0]]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(attention.forward(x, { attentionMask: mask })) as tf.Scalar);
      value.dispose();
      tf.dispose(grads);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
