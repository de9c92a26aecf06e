import { expect } from 'vitest';
import { tf } from '../nn/tf';
import { SeedStream } from '../util/random';
import { initBackend } from './init-backend';

/** Deterministic pseudo-random values in [-scale, scale). */
export function randomValues(count: number, seed: number, scale = 1): Float32Array {
  const stream = new SeedStream(seed);
  return Float32Array.from({ length: count }, () => (stream.next() * 2 - 1) * scale);
}

/** Deterministic pseudo-random integers in [low, high). */
export function randomInts(count: number, seed: number, low: number, high: number): Int32Array {
  const stream = new SeedStream(seed);
  return Int32Array.from({ length: count }, () => low + stream.nextInt(high - low));
}

/** Every entry of actual within tolerance (absolute + relative to the expected magnitude). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const bound = tolerance * (1 + Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= bound)) {
      throw new Error(`entry ${i}: ${actual[i]} vs expected ${expected[i]} (tolerance ${bound})`);
    }
  }
}

/** Registers and initialises wasm (and cpu) once, with peftjs' kernels, then leaves tfjs on cpu. */
export async function prepareCpuAndWasm(): Promise<void> {
  await initBackend({ prefer: 'wasm' });
  await initBackend({ prefer: 'cpu' });
}

/** Runs fn with tfjs switched to `backend`, then switches back to what was active. */
export async function onBackend<T>(backend: 'cpu' | 'wasm', fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
  }
}

/** The number of data buffers the active backend holds (what a leak of a kernel's temporaries grows). */
export function backendDataBuffers(): number {
  return tf.backend().numDataIds();
}
