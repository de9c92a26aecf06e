import { PeftError, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { NF4_CODE_BOOK, dequantizeWeight, quantizeWeight, quantizedBytes } from './codes';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function relativeRms(original: Float32Array, restored: Float32Array): number {
  let error = 0;
  let energy = 0;
  for (let i = 0; i < original.length; i++) {
    error += (original[i]! - restored[i]!) ** 2;
    energy += original[i]! ** 2;
  }
  return Math.sqrt(error / energy);
}

describe('quantized codes', () => {
  it('packs four int8 codes per int32 word, lowest byte first, with per-output-channel absmax/127 scales', () => {
    // One output channel with absmax 127: scale 1, codes 1, -1, 127, -127 -> bytes 0x01, 0xff, 0x7f, 0x81.
    const weight = quantizeWeight(Float32Array.from([1, -1, 127, -127]), [4, 1], 'int8');
    expect(Array.from(weight.scales)).toEqual([1]);
    expect(Array.from(weight.codes)).toEqual([0x817fff01 | 0]);
    expect(Array.from(dequantizeWeight(weight))).toEqual([1, -1, 127, -127]);
    // [2, 3]: channel absmax 2, 0.5, 0.3; each value restored to round(w·127/absmax)·absmax/127.
    const values = Float32Array.from([1, -0.5, 0, -2, 0.2, 0.3]);
    const restored = dequantizeWeight(quantizeWeight(values, [2, 3], 'int8'));
    const absmax = [2, 0.5, 0.3];
    values.forEach((value, i) => expect(restored[i]!).toBeCloseTo((Math.round((value * 127) / absmax[i % 3]!) * absmax[i % 3]!) / 127, 6));
  });

  it('packs eight NF4 codes per word and restores code-book multiples of the block absmax exactly', () => {
    // Block 8: absmax 2, values 2·c for c in the code book -> codes 15, 0, 7, 8, 1, 14, 3, 11.
    const picked = [15, 0, 7, 8, 1, 14, 3, 11];
    const values = Float32Array.from(picked.map((code) => 2 * NF4_CODE_BOOK[code]!));
    const weight = quantizeWeight(values, [2, 4], 'nf4', 8);
    expect(Array.from(weight.scales)).toEqual([2]);
    expect(weight.codes[0]! >>> 0).toBe(picked.reduce((word, code, i) => word + code * 16 ** i, 0));
    expect(Array.from(dequantizeWeight(weight))).toEqual(Array.from(values));
  });

  it('maps each value to the nearest NF4 code and handles a partial last block', () => {
    const values = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7)));
    const weight = quantizeWeight(values, [10, 10], 'nf4', 64);
    expect(weight.scales.length).toBe(2);
    expect(weight.codes.length).toBe(13);
    const restored = dequantizeWeight(weight);
    values.forEach((value, i) => {
      const scale = weight.scales[Math.floor(i / 64)]!;
      const nearest = Math.min(...NF4_CODE_BOOK.map((code) => Math.abs(value - code * scale)));
      expect(Math.abs(value - restored[i]!)).toBeCloseTo(nearest, 5);
    });
  });

  it('rejects a value count that does not fill the shape', () => {
    expect(() => quantizeWeight(new Float32Array(5), [2, 3], 'int8')).toThrowError(expect.objectContaining({ code: 'invalid-argument', field: 'values' }));
    expect(PeftError.hasCode(captureError(() => quantizeWeight(new Float32Array(6), [2, 3], 'nf4', 0)), 'invalid-argument')).toBe(true);
  });

  it('measures bytes and RMS error for a stack of four 1024² weights: fp32 vs int8 vs NF4 (block 64)', () => {
    const shape = [1024, 1024] as const;
    let fp32 = 0;
    let int8 = 0;
    let nf4 = 0;
    let int8Error = 0;
    let nf4Error = 0;
    for (let layer = 0; layer < 4; layer++) {
      const values = tf.tidy(() => tf.randomNormal([...shape], 0, 0.02, 'float32', 100 + layer).dataSync() as Float32Array);
      fp32 += values.byteLength;
      const q8 = quantizeWeight(values, shape, 'int8');
      const q4 = quantizeWeight(values, shape, 'nf4', 64);
      int8 += quantizedBytes(q8);
      nf4 += quantizedBytes(q4);
      int8Error += relativeRms(values, dequantizeWeight(q8)) / 4;
      nf4Error += relativeRms(values, dequantizeWeight(q4)) / 4;
    }
    console.info(
      `4 × 1024² weights: fp32 ${fp32} B, int8 ${int8} B (${((100 * int8Error).toFixed(2))}% RMS), nf4 ${nf4} B (${(100 * nf4Error).toFixed(2)}% RMS).`,
    );
    expect(fp32).toBe(4 * 1024 * 1024 * 4);
    // Codes 1 byte per value + one float per output channel; 0.5 byte per value + one float per 64 values.
    expect(int8).toBe(4 * (1024 * 1024 + 1024 * 4));
    expect(nf4).toBe(4 * (1024 * 1024 / 2 + (1024 * 1024 / 64) * 4));
    expect(int8Error).toBeLessThan(0.012);
    expect(int8Error).toBeGreaterThan(0.002);
    expect(nf4Error).toBeLessThan(0.11);
    expect(nf4Error).toBeGreaterThan(0.05);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
