import { expect } from 'vitest';
import { tf } from '../nn/tf';
import { SeedStream } from '../util/random';

/** Tensor values as a flat number array. */
export function values(x: tf.Tensor): number[] {
  return Array.from(x.dataSync());
}

/** Every entry of actual within tolerance of expected. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance)) {
      throw new Error(`entry ${i}: ${actual[i]} vs expected ${expected[i]} (tolerance ${tolerance})`);
    }
  }
}

/** Deterministic pseudo-random values in [-scale, scale). */
export function randomValues(count: number, seed: number, scale = 1): number[] {
  const stream = new SeedStream(seed);
  return Array.from({ length: count }, () => (stream.next() * 2 - 1) * scale);
}

/** A deterministic pseudo-random float32 tensor. */
export function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed, scale), shape);
}

export interface GradientCheckOptions {
  /** Entries sampled per variable. */
  samples?: number;
  /** Central-difference step. */
  eps?: number;
  relativeTolerance?: number;
  absoluteTolerance?: number;
  seed?: number;
}

/**
 * Compares tf.variableGrads of a scalar loss with central finite differences on a few sampled
 * entries of each variable. The loss is read back as a float32 scalar; a step of ~1e-2 keeps
 * the float32 rounding of the difference (~1e-6 / 2e-2) well under the tolerance while the
 * truncation error (eps²·f''') stays small for these smooth functions.
 */
export function checkGradients(loss: () => tf.Scalar, variables: ReadonlyArray<readonly [string, tf.Variable]>, options: GradientCheckOptions = {}): number {
  const { samples = 3, eps = 1e-2, relativeTolerance = 2e-2, absoluteTolerance = 2e-3, seed = 7 } = options;
  const stream = new SeedStream(seed);
  const { value, grads } = tf.variableGrads(loss, variables.map(([, v]) => v));
  value.dispose();
  let checked = 0;
  try {
    for (const [label, variable] of variables) {
      const gradient = grads[variable.name];
      if (!gradient) throw new Error(`no gradient for ${label}`);
      const analytic = gradient.dataSync();
      const original = variable.dataSync().slice();
      for (let s = 0; s < samples; s++) {
        const index = stream.nextInt(original.length);
        const evaluate = (delta: number): number => {
          const shifted = original.slice();
          shifted[index] = original[index]! + delta;
          const replacement = tf.tensor(shifted, variable.shape);
          variable.assign(replacement);
          replacement.dispose();
          const result = tf.tidy(loss);
          const number = result.dataSync()[0]!;
          result.dispose();
          return number;
        };
        const numeric = (evaluate(eps) - evaluate(-eps)) / (2 * eps);
        const restored = tf.tensor(original, variable.shape);
        variable.assign(restored);
        restored.dispose();
        const exact = analytic[index]!;
        const tolerance = absoluteTolerance + relativeTolerance * Math.max(Math.abs(numeric), Math.abs(exact));
        if (!(Math.abs(numeric - exact) <= tolerance)) {
          throw new Error(`${label}[${index}]: analytic ${exact} vs numeric ${numeric}`);
        }
        checked++;
      }
    }
  } finally {
    for (const g of Object.values(grads)) g.dispose();
  }
  return checked;
}

/** A scalar that weighs every output entry by a fixed random weight, so all entries matter. */
export function weightedSum(output: tf.Tensor, seed = 99): tf.Scalar {
  return tf.tidy(() => {
    const weights = randomTensor(output.shape, seed);
    return tf.sum(tf.mul(output, weights)) as tf.Scalar;
  });
}
