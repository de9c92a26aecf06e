import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerNorm } from '../nn/layer-norm';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { FeedForward } from './feed-forward';
import { MultiHeadAttention } from './multi-head-attention';
import type { LayerContext, Sublayer } from './slots';
import { checkGradients, expectClose, randomTensor, values, weightedSum } from './test-support';
import { TransformerBlock } from './transformer-block';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const EPS = 1e-5;

function makeBlock(preLayerNorm: boolean, causal = false): TransformerBlock {
  const block = new TransformerBlock({
    hiddenSize: 8,
    layerNormEps: EPS,
    preLayerNorm,
    attention: new MultiHeadAttention({ hiddenSize: 8, numHeads: 2, attentionDropout: 0, outputDropout: 0, fusedQkv: causal, causal, initStd: 0.3 }),
    ffn: new FeedForward({ hiddenSize: 8, intermediateSize: 16, activation: 'gelu', dropout: 0, initStd: 0.3 }),
  });
  // Non-trivial norms so that which LayerNorm is applied where shows in the output.
  block.child<LayerNorm>('attentionNorm').gamma.assign(tf.add(1, randomTensor([8], 21, 0.5)));
  block.child<LayerNorm>('attentionNorm').beta.assign(randomTensor([8], 22, 0.5));
  block.child<LayerNorm>('ffnNorm').gamma.assign(tf.add(1, randomTensor([8], 23, 0.5)));
  block.child<LayerNorm>('ffnNorm').beta.assign(randomTensor([8], 24, 0.5));
  return block;
}

/** LayerNorm over the last axis, written out. */
function layerNorm(x: number[][][], norm: LayerNorm): number[][][] {
  const gamma = norm.gamma.value.arraySync() as number[];
  const beta = norm.beta.value.arraySync() as number[];
  return x.map((sequence) =>
    sequence.map((row) => {
      const mean = row.reduce((a, b) => a + b, 0) / row.length;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
      return row.map((v, i) => ((v - mean) / Math.sqrt(variance + EPS)) * gamma[i]! + beta[i]!);
    }),
  );
}

const add = (a: number[][][], b: number[][][]) => a.map((s, i) => s.map((r, j) => r.map((v, k) => v + b[i]![j]![k]!)));
const apply = (sublayer: Sublayer, x: number[][][], context: LayerContext) => sublayer.forward(tf.tensor3d(x), context).arraySync() as number[][][];

/** Adds a fixed tensor to the wrapped sublayer's output (a stand-in for a parallel adapter). */
class AddConstant extends Module<[tf.Tensor, LayerContext], tf.Tensor> {
  constructor(
    inner: Sublayer,
    private readonly constant: tf.Tensor,
  ) {
    super();
    this.registerModule('inner', inner);
  }
  forward(x: tf.Tensor, context: LayerContext): tf.Tensor {
    return tf.tidy(() => tf.add(this.child('inner').forward(x, context), this.constant));
  }
}

describe('TransformerBlock', () => {
  const mask = () => tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 1]]);

  it('post-LN computes LN2(h + ffn(h)) with h = LN1(x + attention(x))', () => {
    const block = makeBlock(false);
    const x = randomTensor([2, 4, 8], 1).arraySync() as number[][][];
    const context = { attentionMask: mask() };
    const h = layerNorm(add(x, apply(block.attention, x, context)), block.child('attentionNorm'));
    const expected = layerNorm(add(h, apply(block.ffn, h, context)), block.child('ffnNorm'));
    expectClose(values(block.forward(tf.tensor3d(x), context)), expected.flat(2), 2e-5);
  });

  it('pre-LN computes h + ffn(LN2(h)) with h = x + attention(LN1(x)), and differs from post-LN', () => {
    const block = makeBlock(true, true);
    const x = randomTensor([2, 4, 8], 2).arraySync() as number[][][];
    const context = { attentionMask: mask() };
    const h = add(x, apply(block.attention, layerNorm(x, block.child('attentionNorm')), context));
    const expected = add(h, apply(block.ffn, layerNorm(h, block.child('ffnNorm')), context));
    const pre = values(block.forward(tf.tensor3d(x), context));
    expectClose(pre, expected.flat(2), 2e-5);
    const post = new TransformerBlock({ hiddenSize: 8, layerNormEps: EPS, preLayerNorm: false, attention: block.attention, ffn: block.ffn });
    const postOut = values(post.forward(tf.tensor3d(x), context));
    expect(Math.max(...postOut.map((v, i) => Math.abs(v - pre[i]!)))).toBeGreaterThan(0.1);
  });

  it('runs a wrapper that replaced the ffn sublayer (the wrapper output feeds the residual)', () => {
    const block = makeBlock(false);
    const x = randomTensor([1, 4, 8], 3);
    const constant = randomTensor([1, 4, 8], 4);
    const context = {};
    const xs = x.arraySync() as number[][][];
    const h = layerNorm(add(xs, apply(block.attention, xs, context)), block.child('attentionNorm'));
    const ffnPlus = add(apply(block.ffn, h, context), constant.arraySync() as number[][][]);
    const expected = layerNorm(add(h, ffnPlus), block.child('ffnNorm'));
    const inner = block.ffn;
    block.replaceModule('ffn', (current) => new AddConstant(current as Sublayer, constant));
    expect(block.getModule('ffn.inner')).toBe(inner);
    expectClose(values(block.forward(x, context)), expected.flat(2), 2e-5);
  });

  it('has gradients that match finite differences, post-LN and pre-LN', () => {
    for (const preLayerNorm of [false, true]) {
      const block = makeBlock(preLayerNorm, preLayerNorm);
      const x = tf.variable(randomTensor([2, 3, 8], 5));
      const attentionMask = tf.tensor2d([[1, 1, 0], [1, 1, 1]]);
      const variables = [['x', x] as const, ...block.namedParameters().map(([name, p]) => [name, p.variable] as const)];
      expect(checkGradients(() => weightedSum(block.forward(x, { attentionMask })), variables, { samples: 2 })).toBe(variables.length * 2);
    }
  });
});
