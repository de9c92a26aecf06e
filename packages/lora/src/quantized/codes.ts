import { PeftError } from '@peftjs/core';

/** Storage formats of a quantized frozen weight. */
export const QUANT_FORMATS = ['int8', 'nf4'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];

/**
 * The 16 values of 4-bit NormalFloat (Dettmers et al., "QLoRA: Efficient Finetuning of Quantized
 * LLMs", 2023, §3 "4-bit NormalFloat Quantization"; the values listed in its appendix and used by
 * bitsandbytes): quantiles of N(0, 1) scaled to [-1, 1], with an exact zero.
 */
export const NF4_CODE_BOOK: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534,
  0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

/** Midpoints between neighbouring NF4 values: a value maps to the code of the interval it falls in. */
const NF4_MIDPOINTS = NF4_CODE_BOOK.slice(1).map((value, i) => (value + NF4_CODE_BOOK[i]!) / 2);

/**
 * A weight [in, out] (row-major) as packed codes plus float32 scales. tfjs has no int8 dtype, so
 * codes are packed into int32 words: 4 int8 codes or 8 4-bit codes per word, lowest bits first.
 */
export interface QuantizedWeight {
  format: QuantFormat;
  shape: readonly [number, number];
  codes: Int32Array;
  /** int8: one absmax/127 per output channel ([out]); nf4: one absmax per block of `blockSize` consecutive values. */
  scales: Float32Array;
  /** nf4: values per absmax block; 0 for int8. */
  blockSize: number;
}

/**
 * Quantizes a row-major [in, out] weight. int8: symmetric, per output channel, scale absmax/127
 * (LLM.int8()-style absmax quantization, Dettmers et al. 2022). nf4: blockwise absmax over
 * `blockSize` consecutive values, each value mapped to the nearest NF4 code (QLoRA §3).
 */
export function quantizeWeight(values: Float32Array, shape: readonly [number, number], format: QuantFormat, blockSize = 64): QuantizedWeight {
  const [inFeatures, outFeatures] = shape;
  if (values.length !== inFeatures * outFeatures) {
    throw new PeftError('invalid-argument', `quantizeWeight: ${values.length} values do not fill a [${inFeatures}, ${outFeatures}] weight.`, { field: 'values', value: values.length, allowed: `${inFeatures * outFeatures} values` });
  }
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new PeftError('invalid-argument', `quantizeWeight: blockSize must be a positive integer; got ${blockSize}.`, { field: 'blockSize', value: blockSize, allowed: 'an integer >= 1' });
  return format === 'int8' ? quantizeInt8(values, shape) : quantizeNf4(values, shape, blockSize);
}

/** The float32 weight the codes stand for, row-major [in, out]. */
export function dequantizeWeight(weight: QuantizedWeight): Float32Array {
  const [inFeatures, outFeatures] = weight.shape;
  const size = inFeatures * outFeatures;
  const out = new Float32Array(size);
  const { codes, scales } = weight;
  if (weight.format === 'int8') {
    for (let index = 0; index < size; index++) {
      // Shift the byte to the top, then an arithmetic shift back sign-extends it.
      const code = (codes[index >> 2]! << (24 - 8 * (index & 3))) >> 24;
      out[index] = code * scales[index % outFeatures]!;
    }
    return out;
  }
  for (let index = 0; index < size; index++) {
    const code = (codes[index >> 3]! >>> (4 * (index & 7))) & 15;
    out[index] = NF4_CODE_BOOK[code]! * scales[Math.floor(index / weight.blockSize)]!;
  }
  return out;
}

/** Bytes the quantized weight occupies: packed codes plus scales. */
export function quantizedBytes(weight: QuantizedWeight): number {
  return weight.codes.byteLength + weight.scales.byteLength;
}

function quantizeInt8(values: Float32Array, shape: readonly [number, number]): QuantizedWeight {
  const [inFeatures, outFeatures] = shape;
  const absmax = new Float32Array(outFeatures);
  for (let index = 0; index < values.length; index++) {
    const channel = index % outFeatures;
    absmax[channel] = Math.max(absmax[channel]!, Math.abs(values[index]!));
  }
  const scales = absmax.map((value) => value / 127);
  const codes = new Int32Array(Math.ceil(values.length / 4));
  for (let index = 0; index < values.length; index++) {
    const scale = scales[index % outFeatures]!;
    const code = scale > 0 ? Math.max(-127, Math.min(127, Math.round(values[index]! / scale))) : 0;
    codes[index >> 2]! |= (code & 0xff) << (8 * (index & 3));
  }
  return { format: 'int8', shape: [inFeatures, outFeatures], codes, scales, blockSize: 0 };
}

function quantizeNf4(values: Float32Array, shape: readonly [number, number], blockSize: number): QuantizedWeight {
  const blocks = Math.ceil(values.length / blockSize);
  const scales = new Float32Array(blocks);
  for (let index = 0; index < values.length; index++) {
    const block = Math.floor(index / blockSize);
    scales[block] = Math.max(scales[block]!, Math.abs(values[index]!));
  }
  const codes = new Int32Array(Math.ceil(values.length / 8));
  for (let index = 0; index < values.length; index++) {
    const scale = scales[Math.floor(index / blockSize)]!;
    const normalized = scale > 0 ? values[index]! / scale : 0;
    let code = 0;
    while (code < NF4_MIDPOINTS.length && normalized > NF4_MIDPOINTS[code]!) code++;
    codes[index >> 3]! |= code << (4 * (index & 7));
  }
  return { format: 'nf4', shape: [shape[0], shape[1]], codes, scales, blockSize };
}
