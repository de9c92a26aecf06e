import { expect } from 'vitest';
import { randomValues } from '../backend/test-support';
import { MemoryMeter } from '../meter/memory-meter';
import { tf } from './tf';

/** A float32 tensor of deterministic O(1) values in [-1, 1). */
export function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed, scale), shape);
}

/**
 * The gradients of loss = Σ f(inputs)·R (R fixed O(1) weights, so every output entry matters with
 * its own weight) with respect to every input, and the output itself, read back.
 */
export function valueAndGradients(f: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], weightSeed = 99): { value: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const value = f(...inputs);
    const weights = randomTensor(value.shape, weightSeed);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), weights)))(inputs);
    return { value: value.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

/** Largest |a − b| relative to 1 + |b|, over all entries. */
export function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return worst;
}

/** Largest |a| over all entries. */
export function maxAbs(a: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]!));
  return worst;
}

/**
 * Asserts that `op` and `plain` give the same output (exactly when `exact`) and the same gradients
 * for every input (within `tolerance`, relative), and that each gradient is far above the tolerance.
 */
export function expectSameValueAndGradients(op: (...inputs: tf.Tensor[]) => tf.Tensor, plain: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], options: { exact?: boolean; tolerance?: number } = {}): void {
  const tolerance = options.tolerance ?? 1e-5;
  const ours = valueAndGradients(op, inputs);
  const reference = valueAndGradients(plain, inputs);
  if (options.exact ?? true) expect(Array.from(ours.value)).toEqual(Array.from(reference.value));
  else expect(maxRelativeDifference(ours.value, reference.value)).toBeLessThanOrEqual(tolerance);
  ours.grads.forEach((gradient, i) => {
    expect(maxAbs(reference.grads[i]!)).toBeGreaterThan(1000 * tolerance);
    expect(maxRelativeDifference(gradient, reference.grads[i]!)).toBeLessThanOrEqual(tolerance);
  });
}

/**
 * Bytes of tensor data a gradient computation holds between its forward and its backward for
 * `op` applied to an intermediate tensor h = 2x (which Mul does not keep): live bytes after the
 * forward (inside tf.grads, the op run in a tidy) minus before it, minus the output itself.
 */
export function bytesHeldForBackward(op: (h: tf.Tensor) => tf.Tensor, x: tf.Tensor): number {
  const meter = MemoryMeter.forBackend();
  const two = tf.scalar(2);
  let held = 0;
  const before = meter.liveBytes();
  const grads = tf.grads((input: tf.Tensor) => {
    const out = tf.tidy(() => op(tf.mul(input, two)));
    held = meter.liveBytes() - before - out.size * 4;
    return tf.sum(out);
  })([x]);
  tf.dispose([two, ...grads]);
  return held;
}
