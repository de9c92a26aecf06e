import { tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fastfood, fwht } from './fastfood';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Sylvester's Hadamard matrix H_n as nested arrays. */
function hadamard(n: number): number[][] {
  let h = [[1]];
  while (h.length < n) h = [...h.map((row) => [...row, ...row]), ...h.map((row) => [...row, ...row.map((v) => -v)])];
  return h;
}

const matVec = (m: number[][], v: number[]) => m.map((row) => row.reduce((sum, value, j) => sum + value * v[j]!, 0));

describe('fwht', () => {
  it.each([1, 2, 8, 16])('equals Sylvester H_%i times the vector, batched over leading axes', (n) => {
    const x = tf.randomNormal([3, n], 0, 1, 'float32', n);
    const rows = x.arraySync() as number[][];
    const ours = fwht(x).arraySync() as number[][];
    rows.forEach((row, r) => matVec(hadamard(n), row).forEach((value, j) => expect(ours[r]![j]).toBeCloseTo(value, 4)));
  });

  it('refuses lengths that are not powers of two', () => {
    expect(() => fwht(tf.zeros([6]))).toThrow(/power-of-two/);
  });
});

describe('Fastfood', () => {
  it.each([
    [5, 8],
    [16, 16],
    [3, 12],
    [10, 4],
  ])('projects d = %i to D = %i as the dense H·G·Π·H·B / (√(L·ΣG²)·√(D/L)) built in plain JS', (d, D) => {
    const fastfood = new Fastfood(d, D, 7);
    const { signs, permutation, gaussian } = fastfood.factors();
    const L = fastfood.size;
    // The reference's divisor (fastfood_torched: divisor · √(DD/LL)), computed here from G alone.
    const divisor = Math.sqrt(L * gaussian.reduce((sum, g) => sum + g * g, 0)) * Math.sqrt(D / L);
    expect(L).toBe(2 ** Math.ceil(Math.log2(Math.max(d, D))));
    const H = hadamard(L);
    const theta = Array.from({ length: d }, (_, i) => Math.sin(i + 1));
    const padded = [...theta, ...new Array(L - d).fill(0)];
    const step1 = matVec(H, padded.map((v, i) => v * signs[i]!));
    const step2 = Array.from(permutation, (p) => step1[p]!).map((v, i) => v * gaussian[i]!);
    const expected = matVec(H, step2).map((v) => v / divisor).slice(0, D);
    const ours = Array.from(fastfood.project(tf.tensor1d(theta)).dataSync());
    expect(ours).toHaveLength(D);
    ours.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 4));
    fastfood.dispose();
  });

  it('has unit-norm columns on average when D < L (the √(D/L) factor of the reference)', () => {
    // D = 600 of L = 1024 rows kept: without the factor the mean column norm² would be D/L ≈ 0.59.
    const d = 64;
    const fastfood = new Fastfood(d, 600, 3);
    const columns = tf.tidy(() => tf.stack(Array.from({ length: d }, (_, i) => fastfood.project(tf.oneHot(i, d).toFloat()))));
    const norms = Array.from(tf.sum(tf.square(columns), 1).dataSync());
    const mean = norms.reduce((sum, value) => sum + value, 0) / d;
    expect(fastfood.size).toBe(1024);
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(1.1);
    tf.dispose(columns);
    fastfood.dispose();
  });

  it('is linear, deterministic per seed, and different across seeds', () => {
    const [a, b, c] = [new Fastfood(4, 8, 1), new Fastfood(4, 8, 1), new Fastfood(4, 8, 2)];
    const u = tf.tensor1d([1, -2, 0.5, 3]);
    const v = tf.tensor1d([0.3, 0.1, -1, 2]);
    const sum = a.project(tf.add(u, v)).dataSync();
    const parts = tf.add(a.project(u), a.project(v)).dataSync();
    sum.forEach((value, i) => expect(value).toBeCloseTo(parts[i]!, 5));
    expect(Array.from(a.project(u).dataSync())).toEqual(Array.from(b.project(u).dataSync()));
    expect(Array.from(a.project(u).dataSync())).not.toEqual(Array.from(c.project(u).dataSync()));
  });
});
