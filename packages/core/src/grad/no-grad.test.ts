import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryMeter, measurePeakMemory } from '../meter/memory-meter';
import { tf } from '../nn/tf';
import { noGrad } from './no-grad';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  MemoryMeter.forBackend();
});

function values(x: tf.Tensor): number[] {
  return Array.from(x.dataSync());
}

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** A frozen chain of tanh(x·W) layers, one tidy per layer as module forwards do. */
function frozenChain(x: tf.Tensor, weights: readonly tf.Tensor[]): tf.Tensor {
  let hidden = x;
  for (const weight of weights) {
    const input = hidden;
    hidden = tf.tidy(() => tf.tanh(tf.matMul(input, weight)));
    if (input !== x) input.dispose();
  }
  return hidden;
}

describe('noGrad', () => {
  it('gives the gradients of a model whose noGrad part is a constant', () => {
    const x = seeded([4, 6], 1);
    const frozen = [tf.variable(seeded([6, 6], 2)), tf.variable(seeded([6, 6], 3))];
    const trained = tf.variable(seeded([6, 3], 4));
    const lossOf = (features: tf.Tensor) => tf.sum(tf.square(tf.matMul(features, trained))) as tf.Scalar;

    const result = tf.variableGrads(() => lossOf(noGrad(() => frozenChain(x, frozen))), [...frozen, trained]);
    const constantFeatures = frozenChain(x, frozen);
    const reference = tf.variableGrads(() => lossOf(constantFeatures), [trained]);

    expect(Object.keys(result.grads)).toEqual([trained.name]);
    expect(values(result.grads[trained.name]!)).toEqual(values(reference.grads[trained.name]!));
    expect(values(result.value)).toEqual(values(reference.value));
    tf.dispose([x, ...frozen, trained, constantFeatures, result.value, reference.value, ...Object.values(result.grads), ...Object.values(reference.grads)]);
  });

  it('returns arrays and objects of tensors as constants, tracked by the enclosing tidy', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    const read = tf.tidy(() => {
      const out = noGrad(() => ({ doubled: x.mul(2), parts: [x.add(1), x], label: 'kept' }));
      expect(out.label).toBe('kept');
      return [values(out.doubled), values(out.parts[0]!), values(out.parts[1]!)];
    });
    expect(read).toEqual([[2, 4, 6], [2, 3, 4], [1, 2, 3]]);
    expect(tf.memory().numTensors).toBe(before);
    expect(x.isDisposed).toBe(false);
    const [gradient] = tf.grads((input: tf.Tensor) => tf.add(tf.sum(noGrad(() => input.square())), tf.sum(input)))([x]);
    expect(values(gradient!)).toEqual([1, 1, 1]);
    tf.dispose([x, gradient!]);
  });

  it('keeps the frozen part off the tape: the real peak of a step drops by its activations', () => {
    const depth = 6;
    const [batch, width] = [32, 64];
    const x = seeded([batch, width], 5);
    const frozen = Array.from({ length: depth }, (_, i) => tf.variable(seeded([width, width], 10 + i)));
    const trained = tf.variable(seeded([width, width], 30));
    const step = (useNoGrad: boolean) => () => {
      const { value, grads } = tf.variableGrads(() => {
        const features = useNoGrad ? noGrad(() => frozenChain(x, frozen)) : frozenChain(x, frozen);
        return tf.mean(tf.square(tf.matMul(features, trained)));
      }, [trained]);
      tf.dispose([value, ...Object.values(grads)]);
    };
    const tensorsBefore = tf.memory().numTensors;
    const plain = measurePeakMemory(step(false));
    const untaped = measurePeakMemory(step(true));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(plain.endBytes).toBe(0);
    expect(untaped.endBytes).toBe(0);
    const activationBytes = batch * width * 4;
    // The tape keeps each frozen layer's matMul input and tanh output; noGrad keeps none of them.
    expect(plain.peakBytes - untaped.peakBytes).toBeGreaterThanOrEqual((depth - 1) * activationBytes);
    tf.dispose([x, ...frozen, trained]);
  });
});
