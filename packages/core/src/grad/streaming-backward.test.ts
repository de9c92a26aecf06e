import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onBackend, prepareCpuAndWasm } from '../backend/test-support';
import { measurePeakMemory, MemoryMeter } from '../meter/memory-meter';
import { BertModel } from '../models/bert-model';
import { randomTensor } from '../nn/op-test-support';
import { tf } from '../nn/tf';
import { setGlobalSeed } from '../util/random';
import { leanAdd } from './lean-add';
import { mayNeedGradient, setStreamingBackward } from './gradient-targets';

beforeAll(prepareCpuAndWasm);
afterAll(() => setStreamingBackward(false));

interface StepReading {
  loss: number;
  grads: Float32Array[];
  peakBytes: number;
}

/** One gradient computation of a small BERT (dropout on) with tfjs' own backward or the streaming one. */
function bertStep(streaming: boolean, trainable: 'all' | 'head'): StepReading {
  setStreamingBackward(streaming);
  setGlobalSeed(3);
  const model = new BertModel({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, task: 'sequence-classification', numLabels: 2 });
  model.train();
  const inputIds = tf.tensor2d([[1, 5, 7, 9, 2, 0], [3, 4, 8, 11, 0, 0]], [2, 6], 'int32');
  const attentionMask = tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], [2, 6], 'int32');
  const labels = tf.tensor1d([1, 0], 'int32');
  const variables = model
    .namedParameters()
    .filter(([name]) => trainable === 'all' || name.startsWith('head.') || name.includes('layers.1.ffn'))
    .map(([, parameter]) => parameter.variable);
  const before = tf.memory().numTensors;
  const { result, peakBytes } = measurePeakMemory(() => tf.variableGrads(() => model.taskLoss(model.forward({ inputIds, attentionMask }), labels, attentionMask), variables));
  const reading = { loss: result.value.dataSync()[0]!, grads: variables.map((v) => result.grads[v.name]!.dataSync() as Float32Array), peakBytes };
  tf.dispose([result.value, ...Object.values(result.grads)]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([inputIds, attentionMask, labels]);
  model.dispose();
  setStreamingBackward(true);
  return reading;
}

describe.each(['cpu', 'wasm'] as const)('streaming backward on %s', (backend) => {
  it('gives tfjs’ own gradients bit for bit, leaks nothing, and peaks lower (all trainable, and a frozen prefix)', () =>
    onBackend(backend, () => {
      MemoryMeter.forBackend();
      for (const trainable of ['all', 'head'] as const) {
        const stock = bertStep(false, trainable);
        const streaming = bertStep(true, trainable);
        expect(streaming.loss).toBe(stock.loss);
        expect(stock.grads.length).toBeGreaterThan(3);
        expect(Math.max(...stock.grads.map((gradient) => Math.max(...gradient.map(Math.abs))))).toBeGreaterThan(1e-3);
        stock.grads.forEach((gradient, i) => expect(Array.from(streaming.grads[i]!)).toEqual(Array.from(gradient)));
        expect(streaming.peakBytes).toBeLessThan(0.8 * stock.peakBytes);
      }
    }));

  it('handles a gradient passed through to two inputs (the same tensor object), a given dy, and nested gradients', () =>
    onBackend(backend, () => {
      const a = randomTensor([4, 3], 1);
      const b = randomTensor([4, 3], 2);
      // leanAdd with equal shapes hands the same dy object to both inputs.
      const f = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.sum(tf.mul(leanAdd(tf.square(x), tf.sin(y)), tf.tanh(x)));
      const stockGrads = (() => {
        setStreamingBackward(false);
        const grads = tf.grads(f)([a, b]);
        setStreamingBackward(true);
        return grads;
      })();
      const grads = tf.grads(f)([a, b]);
      grads.forEach((gradient, i) => expect(Array.from(gradient.dataSync())).toEqual(Array.from(stockGrads[i]!.dataSync())));
      const dy = tf.scalar(3);
      const scaled = tf.grads(f)([a, b], dy);
      const expectedScaled = tf.mul(stockGrads[0]!, 3);
      expect(Math.max(...Array.from(tf.sub(scaled[0]!, expectedScaled).dataSync()).map(Math.abs))).toBeLessThan(1e-5);
      expectedScaled.dispose();
      expect(dy.isDisposed).toBe(false);
      // Second derivative of x³ at x: 6x (the inner computation is nested: tfjs' own backward runs it).
      const second = tf.grad((x: tf.Tensor) => tf.sum(tf.grad((z: tf.Tensor) => tf.sum(tf.pow(z, 3)))(x)))(a);
      expect(Array.from(second.dataSync()).map((v) => Math.round(v * 1e4))).toEqual(Array.from(a.dataSync()).map((v) => Math.round(6 * v * 1e4)));
      tf.dispose([a, b, dy, second, ...grads, ...stockGrads, ...scaled]);
    }));
});

describe('mayNeedGradient', () => {
  it('is true for what the running gradient computation was asked for, what was computed from it and any computed tensor; false for variables not asked for', async () => {
    await tf.setBackend('cpu');
    const asked = tf.variable(tf.ones([2]));
    const other = tf.variable(tf.ones([2]));
    const seen: boolean[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const derived = tf.mul(asked, 2);
      seen.push(mayNeedGradient(asked), mayNeedGradient(derived), mayNeedGradient(other), mayNeedGradient(tf.mul(other, 2)));
      return tf.sum(tf.mul(derived, other));
    }, [asked]);
    // A computed tensor counts as needed whatever it came from: reachability missed weights built from
    // parameters (PHM products, masked or averaged weights), so only variables are pruned.
    expect(seen).toEqual([true, true, false, true]);
    expect(Array.from(grads[asked.name]!.dataSync())).toEqual([2, 2]);
    tf.dispose([asked, other, value, ...Object.values(grads)]);
  });
});
