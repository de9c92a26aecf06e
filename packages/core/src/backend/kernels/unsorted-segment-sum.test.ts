import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../nn/tf';
import { patchKernels, restoreStockKernels } from '../kernel-patches';
import { backendDataBuffers, expectClose, onBackend, prepareCpuAndWasm, randomInts, randomValues } from '../test-support';
import { planSegmentSum } from './segment-sum-plan';

beforeAll(async () => {
  await prepareCpuAndWasm();
});

interface Case {
  label: string;
  xShape: number[];
  ids: number[];
  idsShape: number[];
  numSegments: number;
  dtype?: 'float32' | 'int32';
}

/** Independent reference: out[s, ...] sums the rows of x whose id is s; other ids are dropped. */
function referenceSegmentSum(x: ArrayLike<number>, xShape: number[], ids: number[], numSegments: number): number[] {
  const rowSize = xShape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Array<number>(numSegments * rowSize).fill(0);
  for (let flat = 0; flat < x.length; flat++) {
    const segment = ids[Math.floor(flat / rowSize)]!;
    if (segment < 0 || segment >= numSegments) continue;
    out[segment * rowSize + (flat % rowSize)]! += x[flat]!;
  }
  return out;
}

const CASES: Case[] = [
  { label: 'rank-1 x, repeated ids', xShape: [6], ids: [0, 2, 2, 1, 0, 2], idsShape: [6], numSegments: 3 },
  { label: 'rows with repeats and an id past the end', xShape: [6, 3], ids: [0, 2, 2, 5, 0, 1], idsShape: [6], numSegments: 4 },
  { label: 'negative ids are dropped', xShape: [6, 3], ids: [-1, 0, 3, 3, -5, 1], idsShape: [6], numSegments: 4 },
  { label: 'rank-3 x, empty segments', xShape: [4, 2, 3], ids: [1, 1, 6, 1], idsShape: [4], numSegments: 8 },
  { label: 'int32 x (stock gives float32)', xShape: [5, 2], ids: [1, 0, 1, 3, 1], idsShape: [5], numSegments: 4, dtype: 'int32' },
];

function xValues(testCase: Case, seed: number): Float32Array | Int32Array {
  const size = testCase.xShape.reduce((a, b) => a * b, 1);
  return testCase.dtype === 'int32' ? randomInts(size, seed, -9, 10) : randomValues(size, seed);
}

function runSegmentSum(testCase: Case, x: Float32Array | Int32Array): { values: Float32Array; shape: number[]; dtype: string } {
  return tf.tidy(() => {
    const ids: tf.Tensor = tf.tensor(testCase.ids, testCase.idsShape, 'int32');
    const result = tf.unsortedSegmentSum(tf.tensor(x, testCase.xShape, testCase.dtype ?? 'float32'), ids as tf.Tensor1D, testCase.numSegments);
    return { values: result.dataSync() as Float32Array, shape: result.shape, dtype: result.dtype };
  });
}

describe('planSegmentSum', () => {
  it('accepts one id per row of x and gives the stock output shape', () => {
    expect(planSegmentSum([6, 3], [6], 4)).toEqual({ rows: 6, rowSize: 3, outShape: [4, 3] });
    expect(planSegmentSum([3, 4, 2], [3], 5)).toEqual({ rows: 3, rowSize: 8, outShape: [5, 4, 2] });
    expect(planSegmentSum([4], [4], 2)).toEqual({ rows: 4, rowSize: 1, outShape: [2] });
  });

  it('leaves other id shapes to the stock kernel', () => {
    expect(planSegmentSum([2, 3], [1], 3)).toBeUndefined();
    expect(planSegmentSum([2, 3], [], 3)).toBeUndefined();
    expect(planSegmentSum([3, 4, 2], [3, 4], 3)).toBeUndefined();
  });
});

describe('UnsortedSegmentSum overrides', () => {
  it.each(CASES)('cpu override matches the stock cpu kernel and the reference: $label', (testCase) => {
    const x = xValues(testCase, 11);
    restoreStockKernels('cpu');
    const stock = runSegmentSum(testCase, x);
    expect(patchKernels('cpu')).toContain('UnsortedSegmentSum');
    const fast = runSegmentSum(testCase, x);
    expect(fast.shape).toEqual(stock.shape);
    expect(fast.dtype).toBe(stock.dtype);
    expectClose(fast.values, stock.values, 1e-6);
    expectClose(fast.values, referenceSegmentSum(x, testCase.xShape, testCase.ids, testCase.numSegments), 1e-5);
  });

  it.each(CASES)('wasm kernel (absent from stock wasm) matches the reference: $label', async (testCase) => {
    const x = xValues(testCase, 12);
    const fast = await onBackend('wasm', () => runSegmentSum(testCase, x));
    expect(fast.shape).toEqual([testCase.numSegments, ...testCase.xShape.slice(1)]);
    expect(fast.dtype).toBe('float32');
    expectClose(fast.values, referenceSegmentSum(x, testCase.xShape, testCase.ids, testCase.numSegments), 1e-5);
  });

  it.each([
    { label: 'one id broadcast over every row', xShape: [2, 3], ids: [1], idsShape: [1] },
    { label: 'rank-2 ids', xShape: [3, 4, 2], ids: [0, 1, 2, 2, 1, 0], idsShape: [3, 2] },
  ])('cpu hands other id shapes to the stock kernel: $label', ({ xShape, ids, idsShape }) => {
    const x = randomValues(xShape.reduce((a, b) => a * b, 1), 13);
    const run = (): Float32Array =>
      tf.tidy(() => {
        const idsTensor: tf.Tensor = tf.tensor(ids, idsShape, 'int32');
        return tf.unsortedSegmentSum(tf.tensor(x, xShape), idsTensor as tf.Tensor1D, 3).dataSync() as Float32Array;
      });
    restoreStockKernels('cpu');
    const stock = run();
    patchKernels('cpu');
    expect(Array.from(run())).toEqual(Array.from(stock));
  });

  it('wasm refuses ids that need broadcasting with a clear error', async () => {
    await onBackend('wasm', () => {
      expect(() => tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), tf.tensor1d([1], 'int32'), 3)).toThrow(/one id per row/);
    });
  });

  it('makes the gradient of gather (a trainable embedding) the same on wasm as on stock cpu', async () => {
    const table = randomValues(7 * 4, 3);
    const ids = [3, 0, 3, 6, 3, 1];
    const weights = randomValues(ids.length * 4, 4);
    const gatherGradient = (): Float32Array =>
      tf.tidy(() => {
        const loss = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.gather(t, tf.tensor1d(ids, 'int32')), tf.tensor2d(weights, [ids.length, 4])));
        return tf.grad(loss)(tf.tensor2d(table, [7, 4])).dataSync() as Float32Array;
      });
    restoreStockKernels('cpu');
    const stock = gatherGradient();
    patchKernels('cpu');
    const onWasm = await onBackend('wasm', gatherGradient);
    expectClose(onWasm, stock, 1e-6);
    // Row 3 is gathered three times, rows 2, 4, 5 never.
    expect(Array.from(onWasm.slice(8, 12))).toEqual([0, 0, 0, 0]);
  });

  it('leaks no tensors or buffers on either backend', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await onBackend(backend, () => {
        const x = tf.tensor2d(randomValues(40, 5), [10, 4]);
        const ids = tf.tensor1d(randomInts(10, 6, -2, 6), 'int32');
        tf.unsortedSegmentSum(x, ids, 5).dispose();
        const tensors = tf.memory().numTensors;
        const buffers = backendDataBuffers();
        for (let i = 0; i < 3; i++) tf.unsortedSegmentSum(x, ids, 5).dispose();
        expect(tf.memory().numTensors).toBe(tensors);
        expect(backendDataBuffers()).toBe(buffers);
        x.dispose();
        ids.dispose();
      });
    }
  });
});
