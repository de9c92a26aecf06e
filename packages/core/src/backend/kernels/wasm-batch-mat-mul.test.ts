import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../nn/tf';
import { patchedKernels } from '../kernel-patches';
import { backendDataBuffers, expectClose, onBackend, prepareCpuAndWasm, randomValues } from '../test-support';

beforeAll(async () => {
  await prepareCpuAndWasm();
});

interface Case {
  label: string;
  aShape: number[];
  bShape: number[];
  transposeA?: boolean;
  transposeB?: boolean;
}

const CASES: Case[] = [
  { label: 'rank 2', aShape: [5, 4], bShape: [4, 6] },
  { label: 'transposeA (a weight gradient)', aShape: [4, 5], bShape: [4, 6], transposeA: true },
  { label: 'transposeB (an input gradient)', aShape: [5, 4], bShape: [6, 4], transposeB: true },
  { label: 'both transposed', aShape: [4, 5], bShape: [6, 4], transposeA: true, transposeB: true },
  { label: 'equal batches', aShape: [3, 5, 4], bShape: [3, 4, 6] },
  { label: 'batch against a rank-2 matrix (folded into rows)', aShape: [3, 5, 4], bShape: [4, 6] },
  { label: 'batch against batch 1, transposeB', aShape: [3, 5, 4], bShape: [1, 6, 4], transposeB: true },
  { label: 'rank-2 matrix against a batch', aShape: [5, 4], bShape: [3, 4, 6] },
  { label: 'batch 1 against a batch, transposeA', aShape: [1, 4, 5], bShape: [3, 4, 6], transposeA: true },
  { label: 'attention scores q·kᵀ', aShape: [2, 2, 5, 3], bShape: [2, 2, 5, 3], transposeB: true },
  { label: 'attention key gradient dsᵀ·q', aShape: [2, 2, 5, 5], bShape: [2, 2, 5, 3], transposeA: true },
  // The stock cpu kernel gets this one wrong (it returns 3 of the 6 matrices), hence the reference.
  { label: 'broadcast batch dims [2,1] × [1,3]', aShape: [2, 1, 5, 4], bShape: [1, 3, 4, 6] },
  { label: 'broadcast across ranks [2,3] × [3]', aShape: [2, 3, 2, 4], bShape: [3, 4, 2] },
  { label: 'vectors', aShape: [1, 4], bShape: [4, 1] },
  { label: 'empty shared dimension gives zeros', aShape: [2, 0], bShape: [0, 3] },
];

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Independent reference: a float64 triple loop with transposes and right-aligned batch broadcasting. */
function referenceMatMul(testCase: Case, a: Float32Array, b: Float32Array): { values: number[]; shape: number[] } {
  const { aShape, bShape, transposeA = false, transposeB = false } = testCase;
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const rows = transposeA ? aCols : aRows;
  const inner = transposeA ? aRows : aCols;
  const columns = transposeB ? bRows : bCols;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const padded = (batch: number[]): number[] => [...new Array<number>(rank - batch.length).fill(1), ...batch];
  const aPadded = padded(aBatch);
  const bPadded = padded(bBatch);
  const outBatch = aPadded.map((dim, axis) => Math.max(dim, bPadded[axis]!));
  const flatIndex = (coordinates: number[], dims: number[]): number =>
    coordinates.reduce((index, coordinate, axis) => index * dims[axis]! + (dims[axis] === 1 ? 0 : coordinate), 0);
  const values: number[] = [];
  for (let batch = 0; batch < product(outBatch); batch++) {
    const coordinates: number[] = [];
    let remaining = batch;
    for (let axis = rank - 1; axis >= 0; axis--) {
      coordinates.unshift(remaining % outBatch[axis]!);
      remaining = Math.floor(remaining / outBatch[axis]!);
    }
    const aBase = flatIndex(coordinates, aPadded) * aRows * aCols;
    const bBase = flatIndex(coordinates, bPadded) * bRows * bCols;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < columns; j++) {
        let sum = 0;
        for (let k = 0; k < inner; k++) {
          const aValue = a[aBase + (transposeA ? k * aCols + i : i * aCols + k)]!;
          const bValue = b[bBase + (transposeB ? j * bCols + k : k * bCols + j)]!;
          sum += aValue * bValue;
        }
        values.push(sum);
      }
    }
  }
  return { values, shape: [...outBatch, rows, columns] };
}

function runMatMul(testCase: Case, a: Float32Array, b: Float32Array): { values: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    const result = tf.matMul(tf.tensor(a, testCase.aShape), tf.tensor(b, testCase.bShape), testCase.transposeA, testCase.transposeB);
    return { values: result.dataSync() as Float32Array, shape: result.shape };
  });
}

describe('wasm BatchMatMul override', () => {
  it('is registered on wasm', async () => {
    expect(patchedKernels('wasm')).toContain('BatchMatMul');
  });

  it.each(CASES)('matches an independent reference: $label', async (testCase) => {
    const a = randomValues(product(testCase.aShape), 21);
    const b = randomValues(product(testCase.bShape), 22);
    const expected = referenceMatMul(testCase, a, b);
    const actual = await onBackend('wasm', () => runMatMul(testCase, a, b));
    expect(actual.shape).toEqual(expected.shape);
    expectClose(actual.values, expected.values, 1e-5);
  });

  it.each(CASES.filter((testCase) => !testCase.label.startsWith('broadcast batch dims')))(
    'matches the stock cpu kernel: $label',
    async (testCase) => {
      const a = randomValues(product(testCase.aShape), 23);
      const b = randomValues(product(testCase.bShape), 24);
      const expected = runMatMul(testCase, a, b);
      const actual = await onBackend('wasm', () => runMatMul(testCase, a, b));
      expect(actual.shape).toEqual(expected.shape);
      expectClose(actual.values, expected.values, 1e-5);
    },
  );

  it('gives a hand-computed product', async () => {
    // [[1,2],[3,4]] · [[5,6],[7,8]]ᵀ = [[17,23],[39,53]]
    const values = await onBackend('wasm', () =>
      tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]), false, true).dataSync())),
    );
    expect(values).toEqual([17, 23, 39, 53]);
  });

  it('gives the same gradients as cpu through batched, transposed products', async () => {
    const q = randomValues(2 * 3 * 4, 31);
    const k = randomValues(2 * 3 * 4, 32);
    const w = randomValues(4 * 5, 33);
    const gradients = (): Float32Array[] =>
      tf.tidy(() => {
        const loss = (query: tf.Tensor, key: tf.Tensor, weight: tf.Tensor): tf.Scalar => {
          const scores = tf.softmax(tf.matMul(query, key, false, true));
          const mixed = tf.matMul(scores, key);
          // Rank-2 on the right: tfjs' BatchMatMul gradient does not reduce a broadcast batch.
          return tf.sum(tf.square(tf.matMul(mixed.reshape([-1, 4]), weight)));
        };
        const grads = tf.grads(loss)([tf.tensor3d(q, [2, 3, 4]), tf.tensor3d(k, [2, 3, 4]), tf.tensor2d(w, [4, 5])]);
        return grads.map((grad) => grad.dataSync() as Float32Array);
      });
    const expected = gradients();
    const actual = await onBackend('wasm', gradients);
    actual.forEach((grad, index) => expectClose(grad, expected[index]!, 1e-4));
  });

  it('rejects mismatched inner dimensions and non-float inputs like the stock kernel', async () => {
    await onBackend('wasm', () => {
      expect(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 2]))).toThrow(/inner shapes/);
      expect(() => tf.matMul(tf.zeros([2, 3], 'int32'), tf.zeros([3, 2], 'int32'))).toThrow(/float32/);
    });
  });

  it('leaks no tensors or wasm buffers (transposed temporaries are freed)', async () => {
    await onBackend('wasm', () => {
      const a = tf.tensor(randomValues(2 * 4 * 5, 41), [2, 4, 5]);
      const b = tf.tensor(randomValues(2 * 6 * 4, 42), [2, 6, 4]);
      tf.matMul(a, b, true, true).dispose();
      const tensors = tf.memory().numTensors;
      const buffers = backendDataBuffers();
      for (let i = 0; i < 3; i++) tf.matMul(a, b, true, true).dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(backendDataBuffers()).toBe(buffers);
      a.dispose();
      b.dispose();
    });
  });
});
