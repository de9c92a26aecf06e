import { PeftError } from '../errors/peft-error';

/**
 * The safetensors dtypes, in the order of the reference implementation's `Dtype` enum
 * (huggingface/safetensors, safetensors/src/tensor.rs). That order is what its writer sorts by
 * (descending), so the writer here uses it too to produce byte-identical files.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The tfjs dtypes a safetensors tensor can become (tfjs has no int8/float16/int64). */
export type DecodedDtype = 'float32' | 'int32' | 'bool';

export type DecodedValues = Float32Array | Int32Array | Uint8Array;

/**
 * How dtypes without a tfjs equivalent are read:
 * - `convert`: F16, BF16, F64 -> float32; I8, U8, I16, U16 -> int32; I64, U64, U32 -> int32 with a
 *   range check (an error if a value does not fit, never a silent wrap-around).
 * - `exact`: only F32, I32 and BOOL are accepted; anything else is an error.
 */
export type DtypePolicy = 'convert' | 'exact';

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && (SAFETENSORS_DTYPES as readonly string[]).includes(value);
}

/** Rank of a dtype in the reference `Dtype` enum order. */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}

const NATIVE: Partial<Record<SafetensorsDtype, DecodedDtype>> = { F32: 'float32', I32: 'int32', BOOL: 'bool' };
const CONVERTED: Partial<Record<SafetensorsDtype, DecodedDtype>> = {
  F16: 'float32',
  BF16: 'float32',
  F64: 'float32',
  I8: 'int32',
  U8: 'int32',
  I16: 'int32',
  U16: 'int32',
  U32: 'int32',
  I64: 'int32',
  U64: 'int32',
};

/** The tfjs dtype a safetensors dtype decodes to under a policy; throws when the policy forbids it. */
export function decodedDtype(dtype: SafetensorsDtype, policy: DtypePolicy, field: string): DecodedDtype {
  const native = NATIVE[dtype];
  if (native) return native;
  const converted = policy === 'convert' ? CONVERTED[dtype] : undefined;
  if (converted) return converted;
  const allowed = policy === 'convert' ? [...Object.keys(NATIVE), ...Object.keys(CONVERTED)] : Object.keys(NATIVE);
  throw new PeftError(
    'safetensors-invalid',
    `${field}: dtype ${dtype} cannot be decoded with dtype policy "${policy}"; allowed: ${allowed.join(', ')}.`,
    { field, value: dtype, allowed },
  );
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** safetensors data is little-endian; typed arrays use the host's order. */
export function assertLittleEndianHost(): void {
  if (!IS_LITTLE_ENDIAN) {
    throw new PeftError('not-implemented', 'safetensors I/O needs a little-endian host.', {
      field: 'host.endianness',
      value: 'big-endian',
      allowed: 'little-endian',
    });
  }
}

/**
 * Reads one tensor's raw little-endian bytes as tfjs values. The bytes are copied into a fresh
 * buffer first: a slice of a Node Buffer may sit at an offset that is not a multiple of the
 * element size, which typed arrays refuse.
 */
export function bytesToValues(
  dtype: SafetensorsDtype,
  bytes: Uint8Array,
  policy: DtypePolicy,
  field: string,
): { dtype: DecodedDtype; values: DecodedValues } {
  assertLittleEndianHost();
  const target = decodedDtype(dtype, policy, field);
  // Not bytes.slice(): on a Node Buffer that is a view of the same memory, not a copy.
  const buffer = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'F32':
      return { dtype: target, values: new Float32Array(buffer) };
    case 'I32':
      return { dtype: target, values: new Int32Array(buffer) };
    case 'BOOL':
      return { dtype: target, values: new Uint8Array(buffer) };
    case 'F64':
      return { dtype: target, values: Float32Array.from(new Float64Array(buffer)) };
    case 'F16':
      return { dtype: target, values: halfToFloat32(new Uint16Array(buffer)) };
    case 'BF16':
      return { dtype: target, values: bfloat16ToFloat32(new Uint16Array(buffer)) };
    case 'I8':
      return { dtype: target, values: Int32Array.from(new Int8Array(buffer)) };
    case 'U8':
      return { dtype: target, values: Int32Array.from(new Uint8Array(buffer)) };
    case 'I16':
      return { dtype: target, values: Int32Array.from(new Int16Array(buffer)) };
    case 'U16':
      return { dtype: target, values: Int32Array.from(new Uint16Array(buffer)) };
    case 'U32':
      return { dtype: target, values: unsigned32ToInt32(new Int32Array(buffer), field) };
    case 'I64':
      return { dtype: target, values: wide64ToInt32(new Int32Array(buffer), true, field) };
    case 'U64':
      return { dtype: target, values: wide64ToInt32(new Int32Array(buffer), false, field) };
    default:
      // F8 variants: decodedDtype has already thrown for them.
      throw new PeftError('safetensors-invalid', `${field}: dtype ${dtype} is not supported.`, { field, value: dtype });
  }
}

let halfTable: Float32Array | undefined;

/** IEEE 754 binary16 -> float32, exact (every half value is representable in float32). */
export function halfToFloat32(halves: Uint16Array): Float32Array {
  halfTable ??= buildHalfTable();
  const table = halfTable;
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]!]!;
  return out;
}

function buildHalfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[bits] = fraction === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return table;
}

/** bfloat16 is the top half of a float32: shifting it back up is exact. */
export function bfloat16ToFloat32(halves: Uint16Array): Float32Array {
  const words = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = halves[i]! << 16;
  return new Float32Array(words.buffer);
}

function unsigned32ToInt32(words: Int32Array, field: string): Int32Array {
  for (let i = 0; i < words.length; i++) {
    if (words[i]! < 0) throw outOfInt32Range(field, i, String(words[i]! >>> 0));
  }
  return words;
}

/** 64-bit integers as (low, high) 32-bit word pairs; a value fits int32 iff high is low's sign extension. */
function wide64ToInt32(words: Int32Array, signed: boolean, field: string): Int32Array {
  const out = new Int32Array(words.length / 2);
  for (let i = 0; i < out.length; i++) {
    const low = words[2 * i]!;
    const high = words[2 * i + 1]!;
    const fits = signed ? high === low >> 31 : high === 0 && low >= 0;
    if (!fits) {
      const value = signed ? (BigInt(high) << 32n) | BigInt(low >>> 0) : (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
      throw outOfInt32Range(field, i, value.toString());
    }
    out[i] = low;
  }
  return out;
}

function outOfInt32Range(field: string, index: number, value: string): PeftError {
  return new PeftError(
    'safetensors-invalid',
    `${field}: element ${index} is ${value}, which does not fit in int32 (tfjs has no 64-bit integers).`,
    { field, value, allowed: 'integers in [-2147483648, 2147483647]' },
  );
}
