import { PeftError, describeValue } from '../errors/peft-error';
import { SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype } from './safetensors-dtypes';

/**
 * The reference implementation refuses headers above 100 MB (MAX_HEADER_SIZE in
 * safetensors/src/tensor.rs); checked before anything is allocated from the declared length.
 */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** tfjs indexes with 32-bit integers; a larger dimension cannot be a real tensor here. */
const MAX_DIMENSION = 2 ** 31 - 1;

/** One tensor as the header describes it. `dataOffsets` are relative to the start of the data buffer. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  dataOffsets: [begin: number, end: number];
}

/** A validated header: entries sorted by their data offsets. */
export interface SafetensorsHeader {
  /** Byte length of the JSON header (the u64 at the start of the file). */
  headerLength: number;
  /** Absolute offset of the data buffer in the file: 8 + headerLength. */
  dataStart: number;
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';

/**
 * Parses and validates a safetensors header without making tensors. Rejects (PeftError
 * 'safetensors-invalid', naming the field) everything the reference reader rejects, plus duplicate
 * keys and empty names: the data offsets, sorted, must tile the data buffer exactly from 0 to its
 * end with no gap or overlap, and each entry's byte length must equal product(shape) * itemsize.
 */
export function parseSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  if (bytes.length < 8) {
    throw invalid('file', `the file is ${bytes.length} bytes, shorter than the 8-byte header length`, bytes.length, 'at least 8 bytes');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const declared = high * 2 ** 32 + low;
  if (high !== 0 || declared > MAX_SAFETENSORS_HEADER_BYTES) {
    throw invalid('headerLength', `the declared header length ${declared} exceeds the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit`, declared, `at most ${MAX_SAFETENSORS_HEADER_BYTES}`);
  }
  if (8 + declared > bytes.length) {
    throw invalid('headerLength', `the declared header length ${declared} runs past the end of the ${bytes.length}-byte file`, declared, `at most ${bytes.length - 8}`);
  }
  const headerLength = declared;
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse rejects it as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch (error) {
    throw invalid('header', 'the header is not valid UTF-8', undefined, 'UTF-8 JSON', error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid('header', `the header is not valid JSON (${(error as Error).message})`, text.slice(0, 80), 'a JSON object', error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('header', 'the header is not a JSON object', parsed, 'a JSON object');
  }
  assertNoDuplicateKeys(text);

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === METADATA_KEY) metadata = validateMetadata(value);
    else entries.push(validateEntry(name, value));
  }

  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let expectedBegin = 0;
  for (const entry of entries) {
    const [begin, end] = entry.dataOffsets;
    const field = `header[${JSON.stringify(entry.name)}].data_offsets`;
    if (begin < expectedBegin) {
      throw invalid(field, `[${begin}, ${end}] overlaps the previous tensor, which ends at ${expectedBegin}`, entry.dataOffsets, `begin = ${expectedBegin}`);
    }
    if (begin > expectedBegin) {
      throw invalid(field, `[${begin}, ${end}] leaves a gap after byte ${expectedBegin}; tensors must tile the data buffer`, entry.dataOffsets, `begin = ${expectedBegin}`);
    }
    if (end > dataLength) {
      throw invalid(field, `[${begin}, ${end}] runs past the end of the ${dataLength}-byte data buffer`, entry.dataOffsets, `end <= ${dataLength}`);
    }
    expectedBegin = end;
  }
  if (expectedBegin !== dataLength) {
    throw invalid('data', `the tensors cover ${expectedBegin} bytes but the data buffer has ${dataLength}`, dataLength, `${expectedBegin} bytes`);
  }
  return { headerLength, dataStart, entries, metadata };
}

function validateMetadata(value: unknown): Record<string, string> {
  // The reference reads `__metadata__` as Option<HashMap<String, String>>: null means none.
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(METADATA_KEY, 'must be an object of strings', value, 'an object whose values are strings');
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw invalid(`${METADATA_KEY}.${key}`, `metadata values must be strings, got ${describeValue(item)}`, item, 'a string');
    }
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function validateEntry(name: string, value: unknown): SafetensorsEntry {
  const field = `header[${JSON.stringify(name)}]`;
  if (name === '') throw invalid('header', 'a tensor name is empty', name, 'a non-empty name');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(field, 'must be an object {dtype, shape, data_offsets}', value, 'an object');
  }
  const record = value as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!(key in record)) throw invalid(`${field}.${key}`, 'is missing', undefined, 'dtype, shape and data_offsets');
  }
  const { dtype, shape, data_offsets: offsets } = record;
  if (!isSafetensorsDtype(dtype)) throw invalid(`${field}.dtype`, `unknown dtype ${describeValue(dtype)}`, dtype, SAFETENSORS_DTYPES);
  if (!Array.isArray(shape)) throw invalid(`${field}.shape`, 'must be an array of non-negative integers', shape, 'an array of non-negative integers');
  let elements = 1;
  for (const [index, dimension] of shape.entries()) {
    if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 0 || dimension > MAX_DIMENSION) {
      throw invalid(`${field}.shape[${index}]`, `must be an integer in [0, ${MAX_DIMENSION}], got ${describeValue(dimension)}`, dimension, `integers in [0, ${MAX_DIMENSION}]`);
    }
    elements *= dimension;
    if (elements > Number.MAX_SAFE_INTEGER) throw invalid(`${field}.shape`, 'has more elements than can be addressed', shape, 'a shape whose size fits in a safe integer');
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
    throw invalid(`${field}.data_offsets`, 'must be [begin, end], two non-negative integers', offsets, '[begin, end] with 0 <= begin <= end');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw invalid(`${field}.data_offsets`, `end ${end} is before begin ${begin}`, offsets, 'begin <= end');
  const expectedBytes = elements * SAFETENSORS_DTYPE_SIZE[dtype];
  if (end - begin !== expectedBytes) {
    throw invalid(
      `${field}.data_offsets`,
      `[${begin}, ${end}] spans ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}`,
      offsets,
      `end - begin = ${expectedBytes}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

/**
 * JSON.parse keeps the last of duplicate keys, which would let a file say two things about one
 * tensor. This walks the (already syntax-checked) text and tracks the keys of every open object.
 */
function assertNoDuplicateKeys(text: string): void {
  const open: Array<Set<string> | undefined> = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '{') open.push(new Set());
    else if (char === '[') open.push(undefined);
    else if (char === '}' || char === ']') open.pop();
    else if (char === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const keys = open[open.length - 1];
      if (!keys || !isFollowedByColon(text, i + 1)) continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (keys.has(key)) {
        throw invalid('header', `the key ${JSON.stringify(key)} appears more than once in one object`, key, 'unique keys');
      }
      keys.add(key);
    }
  }
}

function isFollowedByColon(text: string, from: number): boolean {
  let i = from;
  while (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t') i++;
  return text[i] === ':';
}

function invalid(field: string, problem: string, value: unknown, allowed: string | readonly string[], cause?: unknown): PeftError {
  return new PeftError('safetensors-invalid', `Invalid safetensors ${field}: ${problem}.`, { field, value, allowed, cause });
}
