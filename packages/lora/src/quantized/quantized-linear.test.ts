import { Linear, createBert, peft, setGlobalSeed, tf, type Batch } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear } from '../lora/layer';
import { lora } from '../lora/method';
import { QuantizedLinear, quantizeLinears } from './quantized-linear';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const quantizedBert = (format: 'int8' | 'nf4') => (): ConformanceModel => {
  const model = createConformanceBert();
  quantizeLinears(model, { format });
  return model;
};

describeConformance({
  name: 'lora over an NF4-quantized base (QLoRA)',
  createModel: quantizedBert('nf4'),
  methods: () => [lora({ r: 2, alpha: 4, targets: { roles: ['all-linear'] } })],
  mergeable: false,
});

describeConformance({
  name: 'lora over an int8-quantized base',
  createModel: quantizedBert('int8'),
  methods: () => [lora({ r: 2 })],
  mergeable: false,
});

function makeLinear(): Linear {
  setGlobalSeed(9);
  const linear = new Linear(64, 32, { role: 'ffn.up' });
  linear.bias!.assign(tf.randomNormal([32], 0, 0.1, 'float32', 3));
  return linear;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((max, value, i) => Math.max(max, Math.abs(value - b[i]!)), 0);

describe('QuantizedLinear', () => {
  it('computes x·Ŵ + b with Ŵ the dequantized weight, close to the float32 Linear', () => {
    const linear = makeLinear();
    const x = tf.randomNormal([2, 3, 64], 0, 1, 'float32', 4);
    for (const [format, tolerance] of [['int8', 0.02], ['nf4', 0.25]] as const) {
      const quantized = new QuantizedLinear(linear, { format });
      expect([quantized.role, quantized.inFeatures, quantized.outFeatures]).toEqual(['ffn.up', 64, 32]);
      const y = quantized.forward(x);
      expect(y.shape).toEqual([2, 3, 32]);
      const w = quantized.dequantize();
      const reference = tf.add(tf.matMul(x.reshape([6, 64]) as tf.Tensor2D, w), linear.bias!.value);
      expect(maxAbsDiff(y.dataSync(), reference.dataSync())).toBeLessThan(1e-5);
      expect(maxAbsDiff(y.dataSync(), linear.forward(x).dataSync())).toBeLessThan(tolerance);
      tf.dispose([y, w, reference]);
      quantized.dispose();
    }
    tf.dispose(x);
  });

  it('gives dL/dx = dy·Ŵᵀ from the custom gradient', () => {
    const quantized = new QuantizedLinear(makeLinear(), { format: 'nf4' });
    const x = tf.randomNormal([5, 64], 0, 1, 'float32', 4);
    const dy = tf.randomNormal([5, 32], 0, 1, 'float32', 5);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(quantized.forward(input), dy)))(x);
    const w = quantized.dequantize();
    const expected = tf.matMul(dy, w, false, true);
    expect(maxAbsDiff(dx.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
    tf.dispose([x, dy, dx, w, expected]);
    quantized.dispose();
  });

  it('keeps no float32 weight on the tape: bytes held between forward and backward', () => {
    setGlobalSeed(2);
    const quantized = new QuantizedLinear(new Linear(256, 256), { format: 'nf4' });
    const x = tf.randomNormal([2, 256], 0, 1, 'float32', 4);
    const heldBy = (forward: (input: tf.Tensor) => tf.Tensor): number => {
      let held = 0;
      const dx = tf.grad((input: tf.Tensor) => {
        const before = tf.memory().numBytes;
        const loss = tf.sum(forward(input));
        held = tf.memory().numBytes - before;
        return loss;
      })(x);
      dx.dispose();
      return held;
    };
    const custom = heldBy((input) => quantized.forward(input));
    const plain = heldBy((input) => tf.matMul(input as tf.Tensor2D, quantized.dequantize()));
    console.info(`Bytes held by the tape through a 256×256 layer: custom-gradient ${custom} B, plain matMul(x, dequantize(W)) ${plain} B.`);
    expect(plain).toBeGreaterThanOrEqual(256 * 256 * 4);
    expect(custom).toBeLessThan(16 * 1024);
    tf.dispose(x);
    quantized.dispose();
  });

  it('quantize-then-lora: LoRA gradients equal LoRA on a float32 Linear holding Ŵ', () => {
    const linear = makeLinear();
    const quantized = new QuantizedLinear(linear, { format: 'nf4' });
    const dense = new Linear(64, 32);
    dense.weight.assign(quantized.dequantize());
    dense.bias!.assign(linear.bias!.value);
    setGlobalSeed(40);
    const onQuantized = new LoraLinear(quantized, { r: 4, alpha: 8 });
    setGlobalSeed(40);
    const onDense = new LoraLinear(dense, { r: 4, alpha: 8 });
    const b = tf.randomNormal([4, 32], 0, 0.3, 'float32', 6);
    onQuantized.loraB.assign(b);
    onDense.loraB.assign(b);
    const x = tf.randomNormal([6, 64], 0, 1, 'float32', 7);
    const gradients = (layer: LoraLinear) => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(tf.square(layer.forward(x))) as tf.Scalar), [layer.loraA.variable, layer.loraB.variable]);
      const out = [grads[layer.loraA.variable.name]!.dataSync(), grads[layer.loraB.variable.name]!.dataSync()];
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const [qa, qb] = gradients(onQuantized);
    const [da, db] = gradients(onDense);
    expect(maxAbsDiff(qa!, da!)).toBeLessThan(1e-3);
    expect(maxAbsDiff(qb!, db!)).toBeLessThan(1e-3);
    expect(Math.max(...Array.from(qa!).map(Math.abs))).toBeGreaterThan(0.1);
    tf.dispose([b, x]);
  });

  it('quantizeLinears replaces block linears, keeps roles, frees their weights; LoRA then fits random labels', () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 });
    model.eval();
    const original = model.getModule<Linear>('encoder.layers.0.ffn.up');
    const paths = quantizeLinears(model, { format: 'nf4' });
    expect(paths).toHaveLength(2 * 6);
    expect(original.weight.value.isDisposed).toBe(true);
    const up = model.getModule<QuantizedLinear>('encoder.layers.0.ffn.up');
    expect(up).toBeInstanceOf(QuantizedLinear);
    expect(up.role).toBe('ffn.up');
    const batch: Batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 8, seed: 11 });
    const frozenLoss = tf.tidy(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const tuned = peft(model, [lora({ r: 4, alpha: 8, targets: { roles: ['all-linear'] } })]);
    expect(tuned.model.getModule<LoraLinear>('encoder.layers.0.ffn.up').base).toBe(up);
    const optimizer = tf.train.adam(0.02);
    const variables = tuned.trainableParameters().map((p) => p.variable);
    let loss = frozenLoss;
    for (let step = 0; step < 60; step++) {
      const cost = optimizer.minimize(() => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask), true, variables)!;
      loss = cost.dataSync()[0]!;
      cost.dispose();
    }
    optimizer.dispose();
    console.info(`QLoRA fit (NF4 base): frozen loss ${frozenLoss.toFixed(3)} -> ${loss.toFixed(4)} after 60 Adam steps.`);
    expect(frozenLoss).toBeGreaterThan(0.9);
    expect(loss).toBeLessThan(0.25);
    expect(() => tuned.merge()).toThrowError(expect.objectContaining({ code: 'not-mergeable' }));
    disposeBatch(batch);
    model.dispose();
  });
});
