import { PeftError, describeValue } from '../errors/peft-error';
import { tf } from '../nn/tf';
import {
  SAFETENSORS_DTYPES,
  SAFETENSORS_DTYPE_SIZE,
  assertLittleEndianHost,
  bytesToValues,
  dtypeRank,
  isSafetensorsDtype,
  type DecodedDtype,
  type DecodedValues,
  type DtypePolicy,
  type SafetensorsDtype,
} from './safetensors-dtypes';
import { parseSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors-header';

/** A tensor as raw little-endian bytes, for writing dtypes tfjs has no type for. */
export interface RawSafetensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: Uint8Array;
}

export interface DecodeSafetensorsOptions {
  /** How dtypes without a tfjs equivalent are read. Default `convert`. */
  dtypes?: DtypePolicy;
  /** Decode only the tensors this returns true for (the header is still validated whole). */
  include?: (name: string, entry: SafetensorsEntry) => boolean;
}

export interface DecodedSafetensors {
  /** The tensors, in file order; the caller owns (and disposes) them. */
  tensors: Record<string, tf.Tensor>;
  metadata: Record<string, string>;
}

const TFJS_TO_SAFETENSORS: Readonly<Record<string, SafetensorsDtype>> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

/**
 * Serializes raw tensors the way the reference implementation does (safetensors/src/tensor.rs,
 * `prepare`): tensors sorted by dtype descending in the reference `Dtype` enum order, then by name;
 * the JSON header compact, with `__metadata__` first; the header padded with spaces to a multiple
 * of 8 bytes so every tensor's data starts 8-byte aligned. Metadata keys are written sorted (the
 * reference writes them in hash-map order, so no byte layout of several keys is canonical there).
 * Returns the pieces in file order: the length-prefixed header, then each tensor's data.
 */
export function serializeSafetensorsChunks(tensors: Record<string, RawSafetensor>, metadata?: Record<string, string>): Uint8Array[] {
  const named = Object.entries(tensors).map(([name, tensor]) => {
    validateRawTensor(name, tensor);
    return { name, tensor };
  });
  named.sort((a, b) => dtypeRank(b.tensor.dtype) - dtypeRank(a.tensor.dtype) || compareCodePoints(a.name, b.name));

  // Built by hand: JSON.stringify of an object would move integer-like names ("0") to the front.
  const members: string[] = [];
  if (metadata !== undefined) members.push(`"__metadata__":${metadataJson(metadata)}`);
  let offset = 0;
  for (const { name, tensor } of named) {
    const end = offset + tensor.data.length;
    members.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${members.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return [head, ...named.map(({ tensor }) => tensor.data)];
}

/** Serializes raw tensors to one safetensors byte buffer (see serializeSafetensorsChunks). */
export function serializeSafetensors(tensors: Record<string, RawSafetensor>, metadata?: Record<string, string>): Uint8Array {
  return concatBytes(serializeSafetensorsChunks(tensors, metadata));
}

/** The raw form of tfjs tensors: float32 -> F32, int32 -> I32, bool -> BOOL (anything else is an error). */
export function tensorsToRaw(tensors: Record<string, tf.Tensor>): Record<string, RawSafetensor> {
  assertLittleEndianHost();
  const raw: Array<[string, RawSafetensor]> = [];
  for (const [name, tensor] of Object.entries(tensors)) {
    const dtype = TFJS_TO_SAFETENSORS[tensor.dtype];
    if (!dtype) {
      throw new PeftError('invalid-argument', `Tensor "${name}" has dtype ${tensor.dtype}, which safetensors output here does not support.`, {
        field: `tensors.${name}.dtype`,
        value: tensor.dtype,
        allowed: Object.keys(TFJS_TO_SAFETENSORS),
      });
    }
    const values = tensor.dataSync() as DecodedValues;
    raw.push([name, { dtype, shape: tensor.shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }]);
  }
  return Object.fromEntries(raw);
}

/**
 * Encodes tfjs tensors as a safetensors file: float32 -> F32, int32 -> I32, bool -> BOOL.
 * Byte-identical to what the Python `safetensors` library writes for the same tensors.
 *
 * @example
 * const bytes = encodeSafetensors({ 'layer.weight': tf.ones([2, 3]) }, { format: 'pt' });
 */
export function encodeSafetensors(tensors: Record<string, tf.Tensor>, metadata?: Record<string, string>): Uint8Array {
  return serializeSafetensors(tensorsToRaw(tensors), metadata);
}

/** The values of one header entry, decoded under a dtype policy (no tensor is made). */
export function readSafetensorsEntry(
  bytes: Uint8Array,
  header: SafetensorsHeader,
  entry: SafetensorsEntry,
  policy: DtypePolicy = 'convert',
): { dtype: DecodedDtype; values: DecodedValues } {
  const [begin, end] = entry.dataOffsets;
  const slice = bytes.subarray(header.dataStart + begin, header.dataStart + end);
  return bytesToValues(entry.dtype, slice, policy, `header[${JSON.stringify(entry.name)}].dtype`);
}

/**
 * Decodes a safetensors file into tfjs tensors after validating its header
 * (see parseSafetensorsHeader). F16/BF16/F64 and the narrow and wide integer dtypes are converted
 * under the default `convert` policy; 64-bit integers that do not fit int32 are an error.
 *
 * @example
 * const { tensors, metadata } = decodeSafetensors(await fs.readFile('model.safetensors'));
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeSafetensorsOptions = {}): DecodedSafetensors {
  const header = parseSafetensorsHeader(bytes);
  const policy = options.dtypes ?? 'convert';
  const selected = header.entries.filter((entry) => options.include?.(entry.name, entry) ?? true);
  // Convert everything before making tensors, so a range error leaves nothing to dispose.
  const decoded = selected.map((entry) => ({ entry, ...readSafetensorsEntry(bytes, header, entry, policy) }));
  const tensors = decoded.map(({ entry, dtype, values }) => [entry.name, tf.tensor(values, entry.shape, dtype)] as const);
  return { tensors: Object.fromEntries(tensors), metadata: header.metadata };
}

function validateRawTensor(name: string, tensor: RawSafetensor): void {
  if (name === '') throw new PeftError('invalid-argument', 'A tensor name is empty.', { field: 'tensors', value: name, allowed: 'non-empty names' });
  if (name === '__metadata__') {
    throw new PeftError('invalid-argument', 'A tensor cannot be named "__metadata__" (reserved by the format).', { field: 'tensors', value: name, allowed: 'any other name' });
  }
  if (!isSafetensorsDtype(tensor.dtype)) {
    throw new PeftError('invalid-argument', `Tensor "${name}" has unknown dtype ${describeValue(tensor.dtype)}.`, { field: `tensors.${name}.dtype`, value: tensor.dtype, allowed: SAFETENSORS_DTYPES });
  }
  const elements = tensor.shape.reduce((product, dimension) => product * dimension, 1);
  const expected = elements * SAFETENSORS_DTYPE_SIZE[tensor.dtype];
  if (tensor.data.length !== expected) {
    throw new PeftError('invalid-argument', `Tensor "${name}" has ${tensor.data.length} bytes but shape [${tensor.shape.join(', ')}] of ${tensor.dtype} needs ${expected}.`, {
      field: `tensors.${name}.data`,
      value: tensor.data.length,
      allowed: `${expected} bytes`,
    });
  }
}

function metadataJson(metadata: Record<string, string>): string {
  const entries = Object.entries(metadata).sort(([a], [b]) => compareCodePoints(a, b));
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      throw new PeftError('invalid-argument', `Metadata "${key}" must be a string, got ${describeValue(value)}.`, { field: `metadata.${key}`, value, allowed: 'a string' });
    }
  }
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

/** Rust compares Strings byte-wise in UTF-8, which is code point order (not UTF-16 unit order). */
function compareCodePoints(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
