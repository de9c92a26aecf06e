import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../nn/tf';
import { patchKernels, restoreStockKernels } from '../kernel-patches';
import { backendDataBuffers, expectClose, onBackend, prepareCpuAndWasm, randomValues } from '../test-support';

beforeAll(async () => {
  await prepareCpuAndWasm();
});

describe('wasm Identity override', () => {
  it('shares the buffer: a clone adds no wasm buffer and keeps the values', async () => {
    await onBackend('wasm', () => {
      const x = tf.tensor1d([1, 2, 3]);
      const buffers = backendDataBuffers();
      const copy = x.clone();
      expect(backendDataBuffers()).toBe(buffers);
      expect(copy.dataId).toBe(x.dataId);
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
      copy.dispose();
      x.dispose();
    });
  });

  it('copies with the stock kernel (what the override saves)', async () => {
    await onBackend('wasm', () => {
      restoreStockKernels('wasm');
      try {
        const x = tf.tensor1d([1, 2, 3]);
        const buffers = backendDataBuffers();
        const copy = x.clone();
        expect(backendDataBuffers()).toBe(buffers + 1);
        tf.dispose([x, copy]);
      } finally {
        patchKernels('wasm');
      }
    });
  });

  it('keeps a clone valid after the original is disposed, and frees the buffer with the last one', async () => {
    await onBackend('wasm', () => {
      const buffers = backendDataBuffers();
      const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const copy = x.clone();
      x.dispose();
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4]);
      expect(backendDataBuffers()).toBe(buffers + 1);
      copy.dispose();
      expect(backendDataBuffers()).toBe(buffers);
    });
  });

  it('does not let a variable update reach a clone taken before it', async () => {
    await onBackend('wasm', () => {
      const variable = tf.variable(tf.tensor1d([1, 2]));
      const snapshot = variable.clone();
      variable.assign(tf.tensor1d([5, 6]));
      expect(Array.from(snapshot.dataSync())).toEqual([1, 2]);
      expect(Array.from(variable.dataSync())).toEqual([5, 6]);
      tf.dispose([variable, snapshot]);
    });
  });

  it('shares string tensors too', async () => {
    await onBackend('wasm', () => {
      const x = tf.tensor1d(['a', 'bc']);
      const copy = x.clone();
      x.dispose();
      expect(copy.arraySync()).toEqual(['a', 'bc']);
      copy.dispose();
    });
  });

  it('gives the same gradients as cpu when the tape clones saved tensors, with no leak across steps', async () => {
    const x = randomValues(4 * 3, 51);
    const w = randomValues(3 * 2, 52);
    const gradient = (): Float32Array =>
      tf.tidy(() => {
        const loss = (weight: tf.Tensor): tf.Scalar => tf.sum(tf.exp(tf.tanh(tf.matMul(tf.tensor2d(x, [4, 3]), weight))));
        return tf.grad(loss)(tf.tensor2d(w, [3, 2])).dataSync() as Float32Array;
      });
    const expected = gradient();
    await onBackend('wasm', () => {
      expectClose(gradient(), expected, 1e-5);
      const tensors = tf.memory().numTensors;
      const buffers = backendDataBuffers();
      for (let i = 0; i < 3; i++) gradient();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backendDataBuffers()).toBe(buffers);
    });
  });
});
