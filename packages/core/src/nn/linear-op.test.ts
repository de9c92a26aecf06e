import { beforeAll, describe, expect, it } from 'vitest';
import { onBackend, prepareCpuAndWasm } from '../backend/test-support';
import { MemoryMeter } from '../meter/memory-meter';
import { Linear } from './linear';
import { linearOp } from './linear-op';
import { expectSameValueAndGradients, maxAbs, maxRelativeDifference, randomTensor } from './op-test-support';
import { tf } from './tf';

beforeAll(prepareCpuAndWasm);

const plainLinear = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.add(tf.matMul(x.reshape([-1, x.shape[2]!]) as tf.Tensor2D, w as tf.Tensor2D), b).reshape([...x.shape.slice(0, -1), w.shape[1]!]);

describe.each(['cpu', 'wasm'] as const)('linearOp on %s', (backend) => {
  it('gives the plain matMul + add output exactly and its gradients for x, W and b', () =>
    onBackend(backend, () => {
      const inputs = [randomTensor([2, 5, 6], 1), randomTensor([6, 4], 2), randomTensor([4], 3)];
      expectSameValueAndGradients((x, w, b) => linearOp(x!, w!, b), plainLinear, inputs);
      tf.dispose(inputs);
    }));

  it('keeps nothing of x for a weight variable nobody asks a gradient for, and x when asked', () =>
    onBackend(backend, () => {
      MemoryMeter.forBackend();
      const x = randomTensor([8, 16, 32], 4);
      const weight = tf.variable(randomTensor([32, 32], 5));
      const bias = tf.variable(randomTensor([32], 6));
      const meter = MemoryMeter.forBackend();
      const held = (variables: tf.Variable[]): number => {
        let bytes = 0;
        const { value, grads } = tf.variableGrads(() => {
          const before = meter.liveBytes();
          // The op's input is an intermediate (2x, which Mul does not keep): alive after the tidy only if saved.
          const y = tf.tidy(() => linearOp(tf.mul(x, 2), weight, bias));
          bytes = meter.liveBytes() - before - y.size * 4;
          return tf.sum(tf.mul(y, y));
        }, variables);
        tf.dispose([value, ...Object.values(grads)]);
        return bytes;
      };
      const frozen = held([bias]);
      const trainable = held([weight, bias]);
      expect(trainable - frozen).toBeGreaterThanOrEqual(x.size * 4);
      // Gradients for the weight are still exact when asked (a priming run asks for frozen weights).
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(linearOp(x, weight, bias))), [weight]);
      const expected = tf.grads((w: tf.Tensor) => tf.sum(tf.square(plainLinear(x, w, bias))))([weight]);
      expect(maxAbs(expected[0]!.dataSync())).toBeGreaterThan(1);
      expect(maxRelativeDifference(grads[weight.name]!.dataSync(), expected[0]!.dataSync())).toBeLessThanOrEqual(1e-5);
      tf.dispose([x, weight, bias, ...Object.values(grads), ...expected]);
    }));
});

describe('Linear', () => {
  it('trains a frozen-flagged weight when a gradient is asked for it (the decision follows the request, not the flag)', async () => {
    await tf.setBackend('cpu');
    const linear = new Linear(4, 3);
    linear.weight.freeze();
    const x = randomTensor([5, 4], 7);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(linear.forward(x))), [linear.weight.variable]);
    expect(maxAbs(grads[linear.weight.variable.name]!.dataSync())).toBeGreaterThan(0.01);
    tf.dispose([x, ...Object.values(grads)]);
    linear.dispose();
  });
});
