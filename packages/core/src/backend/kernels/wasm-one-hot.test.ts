import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../nn/tf';
import { patchKernels, restoreStockKernels } from '../kernel-patches';
import { backendDataBuffers, onBackend, prepareCpuAndWasm } from '../test-support';

beforeAll(async () => {
  await prepareCpuAndWasm();
});

function oneHot(dtype: 'float32' | 'int32', onValue: number, offValue: number): { values: number[]; shape: number[]; dtype: string } {
  return tf.tidy(() => {
    const result = tf.oneHot(tf.tensor2d([0, 2, -1, 3, 1, 2], [2, 3], 'int32'), 3, onValue, offValue, dtype);
    return { values: Array.from(result.dataSync()), shape: result.shape, dtype: result.dtype };
  });
}

describe('wasm OneHot override', () => {
  it.each([
    { dtype: 'float32' as const, onValue: 1, offValue: 0 },
    { dtype: 'float32' as const, onValue: 0.75, offValue: -0.5 },
    { dtype: 'int32' as const, onValue: 5, offValue: -1 },
  ])('matches the cpu kernel and a hand-written table: $dtype on=$onValue off=$offValue', async ({ dtype, onValue, offValue }) => {
    const on = onValue;
    const off = offValue;
    // Rows for ids 0, 2, −1 (all off), 3 (past depth: all off), 1, 2.
    const expected = [on, off, off, off, off, on, off, off, off, off, off, off, off, on, off, off, off, on];
    const cpu = oneHot(dtype, onValue, offValue);
    const wasm = await onBackend('wasm', () => oneHot(dtype, onValue, offValue));
    expect(cpu.values).toEqual(expected);
    expect(wasm).toEqual(cpu);
    expect(wasm.shape).toEqual([2, 3, 3]);
  });

  it('fixes the stock wasm kernel, which writes int32 bits into float32 outputs', async () => {
    await onBackend('wasm', () => {
      restoreStockKernels('wasm');
      try {
        expect(oneHot('float32', 1, 0).values[0]).not.toBe(1);
      } finally {
        patchKernels('wasm');
      }
      expect(oneHot('float32', 1, 0).values[0]).toBe(1);
    });
  });

  it('leaks nothing', async () => {
    await onBackend('wasm', () => {
      oneHot('float32', 1, 0);
      const tensors = tf.memory().numTensors;
      const buffers = backendDataBuffers();
      oneHot('float32', 1, 0);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backendDataBuffers()).toBe(buffers);
    });
  });
});
