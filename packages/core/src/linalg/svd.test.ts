import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { SeedStream } from '../util/random';
import { svd, truncatedSvd, type SvdResult } from './svd';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function randomMatrix(rows: number, cols: number, seed: number): number[] {
  const random = new SeedStream(seed);
  return Array.from({ length: rows * cols }, () => random.next() * 2 - 1);
}

function reconstruct({ u, s, v, rows, cols, k }: SvdResult): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let r = 0; r < k; r++) out[i * cols + j]! += u[i * k + r]! * s[r]! * v[j * k + r]!;
  return out;
}

/** max |XᵀX − I| over the columns with nonzero singular values. */
function orthonormalityError(x: Float64Array, height: number, k: number, s: Float64Array): number {
  let worst = 0;
  for (let p = 0; p < k; p++) {
    for (let q = 0; q < k; q++) {
      if (s[p] === 0 || s[q] === 0) continue;
      let dot = 0;
      for (let i = 0; i < height; i++) dot += x[i * k + p]! * x[i * k + q]!;
      worst = Math.max(worst, Math.abs(dot - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

describe('svd', () => {
  it.each([
    ['square', 6, 6],
    ['tall', 9, 4],
    ['wide', 3, 8],
  ])('reconstructs a random %s matrix to 1e-10 with orthonormal factors and descending values', (_, rows, cols) => {
    const data = randomMatrix(rows, cols, rows * 31 + cols);
    const result = svd({ data, rows, cols });
    const back = reconstruct(result);
    back.forEach((value, i) => expect(Math.abs(value - data[i]!)).toBeLessThan(1e-10));
    expect(orthonormalityError(result.u, rows, result.k, result.s)).toBeLessThan(1e-10);
    expect(orthonormalityError(result.v, cols, result.k, result.s)).toBeLessThan(1e-10);
    for (let r = 1; r < result.k; r++) expect(result.s[r]!).toBeLessThanOrEqual(result.s[r - 1]!);
  });

  it('finds the rank of a rank-2 product and reconstructs it', () => {
    const left = randomMatrix(7, 2, 1);
    const right = randomMatrix(2, 5, 2);
    const data = Array.from({ length: 35 }, (_, index) => {
      const [i, j] = [Math.floor(index / 5), index % 5];
      return left[i * 2]! * right[j]! + left[i * 2 + 1]! * right[5 + j]!;
    });
    const result = svd({ data, rows: 7, cols: 5 });
    expect(Array.from(result.s).filter((value) => value > 0)).toHaveLength(2);
    reconstruct(result).forEach((value, i) => expect(Math.abs(value - data[i]!)).toBeLessThan(1e-10));
  });

  it('matches hand values: a diagonal matrix and the 2 × 2 [[3, 0], [4, 5]] (singular values √45 and √5)', () => {
    expect(Array.from(svd({ data: [0, 0, 0, 0, 2, 0, 0, 0, -7], rows: 3, cols: 3 }).s)).toEqual([7, 2, 0]);
    const { s } = svd({ data: [3, 0, 4, 5], rows: 2, cols: 2 });
    expect(s[0]).toBeCloseTo(Math.sqrt(45), 12);
    expect(s[1]).toBeCloseTo(Math.sqrt(5), 12);
  });

  it('refuses inconsistent sizes and non-finite entries', () => {
    expect(() => svd({ data: [1, 2, 3], rows: 2, cols: 2 })).toThrow(PeftError);
    expect(() => svd({ data: [1, Number.NaN, 3, 4], rows: 2, cols: 2 })).toThrow(/entry \(0, 1\)/);
  });
});

describe('truncatedSvd', () => {
  it('keeps the top r triplets: the error of the rank-r truncation is the norm of the dropped values', () => {
    const data = randomMatrix(6, 5, 9);
    const matrix = tf.tensor2d(data, [6, 5]);
    const full = svd({ data, rows: 6, cols: 5 });
    const { u, s, v } = truncatedSvd(matrix, 2);
    expect([u.shape, s.shape, v.shape]).toEqual([[6, 2], [2], [5, 2]]);
    const approximation = tf.matMul(tf.mul(u, s), v, false, true);
    const error = tf.norm(tf.sub(matrix, approximation)).dataSync()[0]!;
    const dropped = Math.sqrt(Array.from(full.s.subarray(2)).reduce((sum, value) => sum + value * value, 0));
    expect(error).toBeCloseTo(dropped, 4);
    expect(() => truncatedSvd(matrix, 6)).toThrow(/rank must be an integer in \[1, 5\]/);
    tf.dispose([matrix, u, s, v, approximation]);
  });
});
