import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { backendDataBuffers, expectClose, onBackend, prepareCpuAndWasm, randomInts, randomValues } from './test-support';

beforeAll(async () => {
  await prepareCpuAndWasm();
});

const VOCAB = 11;
const TYPES = 2;
const HIDDEN = 8;
const HEADS = 2;
const HEAD_DIM = HIDDEN / HEADS;
const FFN = 16;
const BATCH = 2;
const SEQ = 5;
const CLASSES = 3;

/** Parameter shapes of a one-block BERT-style encoder plus a GPT-style fused-qkv causal block. */
const PARAMETER_SHAPES: Record<string, number[]> = {
  word: [VOCAB, HIDDEN],
  position: [SEQ, HIDDEN],
  tokenType: [TYPES, HIDDEN],
  embedGamma: [HIDDEN],
  embedBeta: [HIDDEN],
  query: [HIDDEN, HIDDEN],
  key: [HIDDEN, HIDDEN],
  value: [HIDDEN, HIDDEN],
  output: [HIDDEN, HIDDEN],
  outputBias: [HIDDEN],
  up: [HIDDEN, FFN],
  upBias: [FFN],
  down: [FFN, HIDDEN],
  normGamma: [HIDDEN],
  normBeta: [HIDDEN],
  qkv: [HIDDEN, 3 * HIDDEN],
  pooler: [HIDDEN, HIDDEN],
  classifier: [HIDDEN, CLASSES],
};

function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-12))), gamma), beta);
}

function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const flat = tf.matMul(x.reshape([-1, weight.shape[0]!]) as tf.Tensor2D, weight as tf.Tensor2D);
  return (bias ? tf.add(flat, bias) : flat).reshape([...x.shape.slice(0, -1), weight.shape[1]!]);
}

function heads(x: tf.Tensor): tf.Tensor {
  return x.reshape([BATCH, SEQ, HEADS, HEAD_DIM]).transpose([0, 2, 1, 3]);
}

function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, additiveMask: tf.Tensor): tf.Tensor {
  const scores = tf.add(tf.div(tf.matMul(heads(q), heads(k), false, true), Math.sqrt(HEAD_DIM)), additiveMask);
  return tf.matMul(tf.softmax(scores), heads(v)).transpose([0, 2, 1, 3]).reshape([BATCH, SEQ, HIDDEN]);
}

/**
 * The ops a BERT/GPT-2 training step uses, built from raw tfjs ops (independent of models/):
 * gathers, LayerNorm, batched attention with a padding and a causal mask, erf and tanh GELU,
 * fused-qkv split, a tanh pooler, log-softmax cross-entropy. A fixed dropout-like mask keeps
 * both backends on the same numbers.
 */
function encoderLoss(p: Record<string, tf.Tensor>, ids: tf.Tensor, types: tf.Tensor, mask: tf.Tensor, keep: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const positions = tf.range(0, SEQ, 1, 'int32');
  let h = tf.add(tf.add(tf.gather(p.word!, ids), tf.gather(p.position!, positions)), tf.gather(p.tokenType!, types));
  h = tf.mul(layerNorm(h, p.embedGamma!, p.embedBeta!), keep);
  const padding = tf.mul(tf.sub(1, mask.toFloat()), -1e4).reshape([BATCH, 1, 1, SEQ]);
  const attended = attention(linear(h, p.query!), linear(h, p.key!), linear(h, p.value!), padding);
  h = layerNorm(tf.add(h, linear(attended, p.output!, p.outputBias!)), p.normGamma!, p.normBeta!);
  const up = linear(h, p.up!, p.upBias!);
  const geluErf = tf.mul(tf.mul(up, 0.5), tf.add(1, tf.erf(tf.div(up, Math.SQRT2))));
  h = tf.add(h, linear(geluErf, p.down!));
  const [q, k, v] = tf.split(linear(h, p.qkv!), 3, 2) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const causal = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([SEQ, SEQ]), -1, 0)), -1e4);
  const causalOut = attention(q, k, v, causal);
  const cubic = tf.add(causalOut, tf.mul(0.044715, tf.pow(causalOut, 3)));
  h = tf.add(h, tf.mul(tf.mul(causalOut, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), cubic)))));
  const first = tf.squeeze(tf.slice(h, [0, 0, 0], [BATCH, 1, HIDDEN]), [1]);
  const logits = linear(tf.tanh(linear(first, p.pooler!)), p.classifier!);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, CLASSES), tf.logSoftmax(logits)), -1))) as tf.Scalar;
}

describe('training a BERT/GPT-style block on wasm', () => {
  const parameterValues = Object.fromEntries(
    Object.entries(PARAMETER_SHAPES).map(([name, shape], index) => [name, randomValues(shape.reduce((a, b) => a * b, 1), 100 + index, 0.5)]),
  );
  const ids = randomInts(BATCH * SEQ, 7, 0, VOCAB);
  const types = randomInts(BATCH * SEQ, 8, 0, TYPES);
  const mask = [1, 1, 1, 1, 0, 1, 1, 1, 0, 0];
  const keep = randomInts(BATCH * SEQ * HIDDEN, 9, 0, 10).map((draw) => (draw === 0 ? 0 : 1 / 0.9));
  const labels = [2, 0];

  /** Loss and every parameter's gradient, on the active backend. */
  const lossAndGradients = (): { loss: number; gradients: Record<string, Float32Array> } =>
    tf.tidy(() => {
      const names = Object.keys(PARAMETER_SHAPES);
      const lossOf = (...tensors: tf.Tensor[]): tf.Scalar =>
        encoderLoss(
          Object.fromEntries(names.map((name, index) => [name, tensors[index]!])),
          tf.tensor2d(ids, [BATCH, SEQ], 'int32'),
          tf.tensor2d(types, [BATCH, SEQ], 'int32'),
          tf.tensor2d(mask, [BATCH, SEQ], 'int32'),
          tf.tensor3d(keep, [BATCH, SEQ, HIDDEN]),
          tf.tensor1d(labels, 'int32'),
        );
      const { value, grads } = tf.valueAndGrads(lossOf)(names.map((name) => tf.tensor(parameterValues[name]!, PARAMETER_SHAPES[name])));
      return {
        loss: value.dataSync()[0]!,
        gradients: Object.fromEntries(names.map((name, index) => [name, grads[index]!.dataSync() as Float32Array])),
      };
    });

  it('has every forward and gradient kernel, with the cpu backend’s loss and gradients', async () => {
    const expected = lossAndGradients();
    const actual = await onBackend('wasm', lossAndGradients);
    expect(actual.loss).toBeCloseTo(expected.loss, 4);
    for (const [name, gradient] of Object.entries(expected.gradients)) {
      expect(gradient.some((entry) => entry !== 0), `${name} gets a gradient`).toBe(true);
      try {
        expectClose(actual.gradients[name]!, gradient, 2e-4);
      } catch (error) {
        throw new Error(`gradient of ${name}: ${(error as Error).message}`);
      }
    }
  });

  it('leaks no tensors or wasm buffers across steps', async () => {
    await onBackend('wasm', () => {
      lossAndGradients();
      const tensors = tf.memory().numTensors;
      const buffers = backendDataBuffers();
      for (let i = 0; i < 2; i++) lossAndGradients();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backendDataBuffers()).toBe(buffers);
    });
  });
});
