import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { detach } from './detach';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function values(x: tf.Tensor): number[] {
  return Array.from(x.dataSync());
}

describe('detach', () => {
  it('keeps the value and shape', () => {
    const x = tf.tensor2d([[1, -2], [3, 0.5]]);
    const y = detach(x);
    expect(y.shape).toEqual([2, 2]);
    expect(values(y)).toEqual(values(x));
    expect(y).not.toBe(x);
    tf.dispose([x, y]);
  });

  it('cuts only the detached path: d/dx sum(detach(x)^2 * x) = x^2, not 3x^2', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const [grad] = tf.grads((input: tf.Tensor) => tf.sum(tf.mul(tf.square(detach(input)), input)))([x]);
    // Reference: the detached factor replaced by a constant copy made outside the recording scope.
    const constant = tf.tensor1d(Array.from(x.dataSync()));
    const [reference] = tf.grads((input: tf.Tensor) => tf.sum(tf.mul(tf.square(constant), input)))([x]);
    expect(values(grad!)).toEqual(values(reference!));
    expect(values(grad!)).toEqual([1, 4, 9]);
    tf.dispose([x, grad!, constant, reference!]);
  });

  it('gives a variable reached only through detach no gradient, and its other inputs theirs', () => {
    const frozen = tf.variable(tf.tensor1d([2, 3]));
    const weight = tf.variable(tf.tensor1d([5, 7]));
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(detach(frozen), weight)), [frozen, weight]);
    expect(Object.keys(grads)).toEqual([weight.name]);
    expect(values(grads[weight.name]!)).toEqual([2, 3]);
    expect(() => tf.grads((input: tf.Tensor) => tf.sum(detach(input)))([tf.tensor1d([1])])).toThrow(/Cannot compute gradient/);
    tf.dispose([value, ...Object.values(grads), frozen, weight]);
  });

  it('propagates nothing back through the producer of a detached tensor', () => {
    const weight = tf.variable(tf.tensor1d([0.5, -1]));
    const { value, grads } = tf.variableGrads(() => {
      const produced = tf.exp(tf.mul(weight, 2));
      return tf.add(tf.sum(detach(produced)), tf.sum(weight));
    }, [weight]);
    // Only the direct sum(weight) term contributes.
    expect(values(grads[weight.name]!)).toEqual([1, 1]);
    expect(value.dataSync()[0]).toBeCloseTo(Math.exp(1) + Math.exp(-2) - 0.5, 5);
    tf.dispose([value, ...Object.values(grads), weight]);
  });

  it('leaks no tensors inside a tidy', () => {
    const x = tf.tensor1d([1, 2]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      detach(x).add(1);
    });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
