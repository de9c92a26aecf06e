import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { BACKEND_ENV_VAR, currentBackend, initBackend } from './init-backend';
import { patchedKernels } from './kernel-patches';

function installed(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${packageName}/package.json`);
    return true;
  } catch {
    return false;
  }
}

const nativeInstalled = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

afterEach(async () => {
  delete process.env[BACKEND_ENV_VAR];
  await initBackend({ prefer: 'cpu' });
});

describe('initBackend', () => {
  it('switches to a forced cpu backend and patches its segment sum', async () => {
    const info = await initBackend({ prefer: 'cpu' });
    expect(info).toMatchObject({ backend: 'cpu', name: 'cpu', native: false, gpu: false, kernelsPatched: ['UnsortedSegmentSum'] });
    expect(tf.getBackend()).toBe('cpu');
    expect(patchedKernels('cpu')).toEqual(['UnsortedSegmentSum']);
  });

  it('switches to wasm with its overrides, and its kernels run', async () => {
    const info = await initBackend({ prefer: 'wasm' });
    expect(info).toMatchObject({ backend: 'wasm', packageName: '@tensorflow/tfjs-backend-wasm', native: false });
    expect(info.kernelsPatched).toEqual(['UnsortedSegmentSum', 'BatchMatMul', 'Identity', 'OneHot']);
    expect(tf.getBackend()).toBe('wasm');
    expect(Array.from(tf.tidy(() => tf.matMul(tf.tensor2d([1, 2], [1, 2]), tf.tensor2d([3, 4], [2, 1])).dataSync()))).toEqual([11]);
  });

  it.skipIf(nativeInstalled)('picks wasm when no native backend is installed, saying why each native one was skipped', async () => {
    const info = await initBackend();
    expect(info.backend).toBe('wasm');
    expect(info.skipped.map((entry) => entry.candidate)).toEqual(['tfjs-node-gpu', 'tfjs-node']);
    expect(info.skipped[0]!.reason).toMatch(/tfjs-node-gpu is not installed/);
  });

  it.skipIf(nativeInstalled)('throws backend-unavailable naming what is available when a forced native backend is missing', async () => {
    const error = await initBackend({ prefer: 'tfjs-node' }).catch((caught: unknown) => caught);
    expect(PeftError.hasCode(error, 'backend-unavailable')).toBe(true);
    const peftError = error as PeftError;
    expect(peftError.field).toBe('prefer');
    expect(peftError.value).toBe('tfjs-node');
    expect(peftError.allowed).toEqual(['wasm', 'cpu']);
    expect(peftError.message).toMatch(/tfjs-node is not installed.*Available: wasm, cpu/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it("kernels: 'stock' restores tfjs' own kernels, and 'fast' patches them again (idempotently)", async () => {
    const stock = await initBackend({ prefer: 'wasm', kernels: 'stock' });
    expect(stock.kernelsPatched).toEqual([]);
    expect(patchedKernels('wasm')).toEqual([]);
    expect(() => tf.unsortedSegmentSum(tf.ones([2]), tf.tensor1d([0, 1], 'int32'), 2)).toThrow(/not registered/);
    await initBackend({ prefer: 'wasm' });
    const before = tf.getKernel('BatchMatMul', 'wasm');
    await initBackend({ prefer: 'wasm' });
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(before);
    expect(patchedKernels('wasm')).toEqual(['UnsortedSegmentSum', 'BatchMatMul', 'Identity', 'OneHot']);
  });

  it(`follows ${BACKEND_ENV_VAR} when no preference is given`, async () => {
    process.env[BACKEND_ENV_VAR] = 'wasm';
    expect((await initBackend()).backend).toBe('wasm');
    process.env[BACKEND_ENV_VAR] = 'cpu';
    expect((await initBackend()).backend).toBe('cpu');
    expect((await initBackend({ prefer: 'wasm' })).backend).toBe('wasm');
  });

  it('rejects unknown preferences, from options or the environment, naming the allowed ones', async () => {
    await expect(initBackend({ prefer: 'webgl' as never })).rejects.toMatchObject({ code: 'invalid-argument', field: 'prefer', value: 'webgl' });
    process.env[BACKEND_ENV_VAR] = 'gpu';
    const error = await initBackend().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'invalid-argument', field: BACKEND_ENV_VAR, value: 'gpu' });
    expect((error as PeftError).allowed).toContain('tfjs-node-gpu');
    delete process.env[BACKEND_ENV_VAR];
    await expect(initBackend({ kernels: 'turbo' as never })).rejects.toMatchObject({ code: 'invalid-argument', field: 'kernels' });
  });
});

describe('currentBackend', () => {
  it('describes the active backend and its patched kernels', async () => {
    await initBackend({ prefer: 'wasm' });
    expect(currentBackend()).toMatchObject({ backend: 'wasm', kernelsPatched: ['UnsortedSegmentSum', 'BatchMatMul', 'Identity', 'OneHot'] });
    await tf.setBackend('cpu');
    expect(currentBackend()).toMatchObject({ backend: 'cpu', packageName: '@tensorflow/tfjs-backend-cpu', native: false });
  });
});
