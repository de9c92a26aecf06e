import { tf, type Parameter } from '@peftjs/core';
import { expect } from 'vitest';

/**
 * Compares the tape's gradient of `loss` w.r.t. a few entries of `parameter` with central finite
 * differences (float32: step 1e-2 on an O(1) loss). Asserts the compared gradients are far above the
 * tolerance, so a zero gradient cannot pass.
 */
export function checkGradientByFiniteDifferences(parameter: Parameter, loss: () => tf.Scalar, entries: number[], options: { step?: number; tolerance?: number } = {}): void {
  const step = options.step ?? 1e-2;
  const tolerance = options.tolerance ?? 2e-3;
  const { value, grads } = tf.variableGrads(loss, [parameter.variable]);
  const analytic = grads[parameter.variable.name]!.dataSync().slice();
  tf.dispose([value, ...Object.values(grads)]);
  const original = parameter.variable.dataSync().slice();
  const lossAt = (values: Float32Array | Int32Array | Uint8Array): number => {
    tf.tidy(() => parameter.assign(tf.tensor(values, parameter.shape)));
    return tf.tidy(() => loss().dataSync()[0]!);
  };
  let largest = 0;
  for (const entry of entries) {
    const plus = original.slice();
    plus[entry]! += step;
    const minus = original.slice();
    minus[entry]! -= step;
    const numeric = (lossAt(plus) - lossAt(minus)) / (2 * step);
    expect(Math.abs(numeric - analytic[entry]!)).toBeLessThan(tolerance + 0.02 * Math.abs(numeric));
    largest = Math.max(largest, Math.abs(numeric));
  }
  tf.tidy(() => parameter.assign(tf.tensor(original, parameter.shape)));
  expect(largest).toBeGreaterThan(50 * tolerance);
}
