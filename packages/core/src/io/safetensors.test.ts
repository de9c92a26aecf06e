import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { decodeSafetensors, encodeSafetensors, readSafetensorsEntry, serializeSafetensors } from './safetensors';
import { parseSafetensorsHeader } from './safetensors-header';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

/** A file written by hand: u64 LE length (or a declared one), the header text, then the data bytes. */
function fileFrom(header: string, data: number[] = [], declaredLength?: bigint): Uint8Array {
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

function expectInvalid(bytes: Uint8Array, field: string | RegExp): void {
  let caught: unknown;
  try {
    parseSafetensorsHeader(bytes);
  } catch (error) {
    caught = error;
  }
  expect(PeftError.hasCode(caught, 'safetensors-invalid')).toBe(true);
  if (typeof field === 'string') expect((caught as PeftError).field).toBe(field);
  else expect((caught as PeftError).field).toMatch(field);
}

describe('encodeSafetensors matches the reference implementation byte for byte', () => {
  // Expected bytes copied from the reference test suite (huggingface/safetensors,
  // safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty).
  it('one F32 tensor whose header needs no padding', () => {
    const out = encodeSafetensors({ 'attn.0': tf.tensor([0, 1, 2, 3, 4, 5], [1, 2, 3]) });
    expect([...out]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34,
      115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91,
      48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('pads the header with spaces to 8-byte alignment', () => {
    const out = encodeSafetensors({ attn0: tf.tensor([0, 1, 2, 3, 4, 5], [1, 1, 2, 3]) });
    expect([...out]).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115,
      104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91,
      48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('empty files, with and without metadata', () => {
    expect([...encodeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...encodeSafetensors({}, { framework: 'pt' })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111,
      114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it('orders mixed dtypes as Python safetensors.numpy.save does (dtype descending, then name)', () => {
    // Worked by hand from the spec; the same 223 bytes came out of Python safetensors 0.8.0's
    // save({'b': int32 [1, -1], 'a': float32 [1.5], 'm': bool [T, F, T]}, metadata={'format': 'pt'}).
    const out = encodeSafetensors(
      { b: tf.tensor([1, -1], [2], 'int32'), a: tf.tensor([1.5], [1]), m: tf.tensor([true, false, true], [3], 'bool') },
      { format: 'pt' },
    );
    const json =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]},"m":{"dtype":"BOOL","shape":[3],"data_offsets":[12,15]}}';
    expect(json.length).toBe(195);
    const expected = [
      200, 0, 0, 0, 0, 0, 0, 0,
      ...ascii(json), 32, 32, 32, 32, 32,
      0x00, 0x00, 0xc0, 0x3f, // 1.5f
      0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, // 1, -1
      1, 0, 1,
    ];
    expect([...out]).toEqual(expected);
    expect(out.length).toBe(223);
  });

  it('keeps integer-like names in sorted order (JSON.stringify would move them first)', () => {
    const out = encodeSafetensors({ b: tf.tensor([1], [1]), '10': tf.tensor([2], [1]), '9': tf.tensor([3], [1]) });
    const header = parseSafetensorsHeader(out);
    expect(header.entries.map((e) => e.name)).toEqual(['10', '9', 'b']);
    const text = new TextDecoder().decode(out.subarray(8, header.dataStart));
    expect(text.indexOf('"10"')).toBeLessThan(text.indexOf('"9"'));
    expect(text.indexOf('"9"')).toBeLessThan(text.indexOf('"b"'));
  });
});

describe('decodeSafetensors', () => {
  it('reads a fixture written byte by byte, with entries listed out of data order', () => {
    const header =
      '{"w":{"dtype":"F16","shape":[2,2],"data_offsets":[16,24]},' +
      '"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
      '"__metadata__":{"format":"pt","note":"hand made"},' +
      '"flag":{"dtype":"BOOL","shape":[2],"data_offsets":[26,28]},' +
      '"b":{"dtype":"BF16","shape":[1],"data_offsets":[24,26]}}';
    const data = [
      0x05, 0, 0, 0, 0, 0, 0, 0, // I64 5
      0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64 -3
      0x00, 0x3c, // F16 1.0
      0x00, 0xc0, // F16 -2.0
      0xff, 0x7b, // F16 65504 (largest half)
      0x01, 0x00, // F16 2^-24 (smallest subnormal)
      0xc0, 0x3f, // BF16 1.5
      1, 0,
    ];
    const { tensors, metadata } = decodeSafetensors(fileFrom(header, data));
    expect(metadata).toEqual({ format: 'pt', note: 'hand made' });
    expect(Object.keys(tensors)).toEqual(['ids', 'w', 'b', 'flag']);
    expect(tensors.ids!.dtype).toBe('int32');
    expect([...tensors.ids!.dataSync()]).toEqual([5, -3]);
    expect(tensors.w!.shape).toEqual([2, 2]);
    expect([...tensors.w!.dataSync()]).toEqual([1, -2, 65504, 2 ** -24]);
    expect([...tensors.b!.dataSync()]).toEqual([1.5]);
    expect(tensors.flag!.dtype).toBe('bool');
    expect([...tensors.flag!.dataSync()]).toEqual([1, 0]);
    tf.dispose(Object.values(tensors));
  });

  it('round-trips float32, int32 and bool tensors, including scalars and empty tensors', () => {
    const inputs = {
      f: tf.tensor([[0.1, -2.5e-8, 3.4e38], [Infinity, -0, 7]]),
      i: tf.tensor([2147483647, -2147483648, 0], [3], 'int32'),
      flags: tf.tensor([[true], [false]], [2, 1], 'bool'),
      scalar: tf.scalar(4.25),
      empty: tf.zeros([0, 3]),
    };
    const { tensors } = decodeSafetensors(encodeSafetensors(inputs));
    for (const [name, original] of Object.entries(inputs)) {
      const decoded = tensors[name]!;
      expect(decoded.dtype).toBe(original.dtype);
      expect(decoded.shape).toEqual(original.shape);
      expect([...decoded.dataSync()]).toEqual([...original.dataSync()]);
    }
    expect(Object.is(tensors.f!.dataSync()[4], -0)).toBe(true);
    tf.dispose([...Object.values(inputs), ...Object.values(tensors)]);
  });

  it('reads every integer and float dtype written raw, against hand-known values', () => {
    const raw = (dtype: Parameters<typeof serializeSafetensors>[0][string]['dtype'], bytes: number[], shape: number[]) => ({
      dtype,
      shape,
      data: Uint8Array.from(bytes),
    });
    const bytes = serializeSafetensors({
      i8: raw('I8', [0x80, 0x7f, 0xff], [3]),
      u8: raw('U8', [0xff, 0x00], [2]),
      i16: raw('I16', [0x00, 0x80, 0xff, 0x7f], [2]),
      u16: raw('U16', [0xff, 0xff], [1]),
      u32: raw('U32', [0xff, 0xff, 0xff, 0x7f], [1]),
      f64: raw('F64', [0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f], [2]),
      u64: raw('U64', [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0], [1]),
      f16: raw('F16', [0x00, 0x7c, 0x00, 0xfc, 0x00, 0x7e, 0x00, 0x80, 0x00, 0x35], [5]),
      bf16: raw('BF16', [0x80, 0x7f, 0x80, 0xbf], [2]),
    });
    const { tensors } = decodeSafetensors(bytes);
    const values = (name: string) => [...tensors[name]!.dataSync()];
    expect(values('i8')).toEqual([-128, 127, -1]);
    expect(values('u8')).toEqual([255, 0]);
    expect(values('i16')).toEqual([-32768, 32767]);
    expect(values('u16')).toEqual([65535]);
    expect(values('u32')).toEqual([2147483647]);
    expect(values('f64')).toEqual([1.5, Math.fround(0.1)]);
    expect(values('u64')).toEqual([2147483647]);
    const half = values('f16');
    expect(half.slice(0, 2)).toEqual([Infinity, -Infinity]);
    expect(half[2]).toBeNaN();
    expect(Object.is(half[3], -0)).toBe(true);
    expect(half[4]).toBe(0.3125); // 0x3500: exponent 13 -> 2^-2 * (1 + 256/1024)
    expect(values('bf16')).toEqual([Infinity, -1]);
    for (const tensor of Object.values(tensors)) expect(['float32', 'int32']).toContain(tensor.dtype);
    tf.dispose(Object.values(tensors));
  });

  it('rejects 64-bit and unsigned 32-bit integers outside int32 instead of wrapping them', () => {
    const tooBig = serializeSafetensors({ x: { dtype: 'I64', shape: [2], data: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0]) } });
    expect(() => decodeSafetensors(tooBig)).toThrow(/element 1 is 2147483648/);
    const negativeWide = serializeSafetensors({ x: { dtype: 'I64', shape: [1], data: Uint8Array.from([0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff]) } });
    expect(() => decodeSafetensors(negativeWide)).toThrow(/-2147483649/);
    const unsigned = serializeSafetensors({ x: { dtype: 'U32', shape: [1], data: Uint8Array.from([0, 0, 0, 0x80]) } });
    expect(() => decodeSafetensors(unsigned)).toThrow(/2147483648/);
    const numTensors = tf.memory().numTensors;
    const mixed = serializeSafetensors({
      a: { dtype: 'F32', shape: [1], data: new Uint8Array(4) },
      b: { dtype: 'U64', shape: [1], data: Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]) },
    });
    expect(() => decodeSafetensors(mixed)).toThrow(PeftError);
    expect(tf.memory().numTensors).toBe(numTensors);
  });

  it('the exact dtype policy refuses conversions; include decodes a subset', () => {
    const bytes = serializeSafetensors({
      h: { dtype: 'F16', shape: [1], data: Uint8Array.from([0x00, 0x3c]) },
      f: { dtype: 'F32', shape: [1], data: Uint8Array.from([0, 0, 0xc0, 0x3f]) },
    });
    expect(() => decodeSafetensors(bytes, { dtypes: 'exact' })).toThrow(/F16 cannot be decoded with dtype policy "exact"/);
    const { tensors } = decodeSafetensors(bytes, { dtypes: 'exact', include: (name) => name === 'f' });
    expect(Object.keys(tensors)).toEqual(['f']);
    expect([...tensors.f!.dataSync()]).toEqual([1.5]);
    tf.dispose(Object.values(tensors));
  });

  it('copies out of unaligned Node Buffers', () => {
    const bytes = encodeSafetensors({ x: tf.tensor([1, 2, 3], [3]) });
    const shifted = Buffer.alloc(bytes.length + 1);
    shifted.set(bytes, 1);
    const unaligned = shifted.subarray(1);
    const header = parseSafetensorsHeader(unaligned);
    const { values } = readSafetensorsEntry(unaligned, header, header.entries[0]!);
    expect([...values]).toEqual([1, 2, 3]);
  });

  it('refuses to encode string tensors and mismatched raw data', () => {
    expect(() => encodeSafetensors({ s: tf.tensor(['a']) })).toThrow(/dtype string/);
    expect(() => serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Uint8Array(4) } })).toThrow(/needs 8/);
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: new Uint8Array(4) } })).toThrow(/reserved/);
  });
});

describe('parseSafetensorsHeader rejects hostile files', () => {
  const entry = (dtype: string, shape: unknown, offsets: unknown) => JSON.stringify({ dtype, shape, data_offsets: offsets });

  it('files shorter than 8 bytes', () => {
    expectInvalid(new Uint8Array(7), 'file');
  });

  it('header lengths past the end of the file or above 100 MB, before allocating', () => {
    expectInvalid(fileFrom('{}', [], 1n), 'header'); // a declared length that cuts "{}" to "{"
    expectInvalid(fileFrom('{}', [], 100n), 'headerLength');
    expectInvalid(fileFrom('{}', [], 100_000_001n), 'headerLength');
    expectInvalid(fileFrom('{}', [], 2n ** 63n), 'headerLength');
  });

  it('headers that are not UTF-8, not JSON, carry a BOM, or are not an object', () => {
    const notUtf8 = fileFrom('{}  ');
    notUtf8[9] = 0xff;
    expectInvalid(notUtf8, 'header');
    expectInvalid(fileFrom('{"a":'), 'header');
    expectInvalid(fileFrom('\ufeff{}'), 'header');
    expectInvalid(fileFrom('[]'), 'header');
    expectInvalid(fileFrom('"x"'), 'header');
    expectInvalid(fileFrom('null'), 'header');
  });

  it('entries missing fields or with wrong types', () => {
    expectInvalid(fileFrom('{"x":{"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'header["x"].dtype');
    expectInvalid(fileFrom('{"x":{"dtype":"F32","data_offsets":[0,4]}}', [0, 0, 0, 0]), 'header["x"].shape');
    expectInvalid(fileFrom('{"x":{"dtype":"F32","shape":[1]}}', [0, 0, 0, 0]), 'header["x"].data_offsets');
    expectInvalid(fileFrom('{"x":[1]}'), 'header["x"]');
    expectInvalid(fileFrom(`{"x":${entry('F32', '1', [0, 4])}}`, [0, 0, 0, 0]), 'header["x"].shape');
    expectInvalid(fileFrom(`{"x":${entry('F32', [1], [0])}}`, [0, 0, 0, 0]), 'header["x"].data_offsets');
    expectInvalid(fileFrom(`{"x":${entry('F32', [1], ['0', 4])}}`, [0, 0, 0, 0]), 'header["x"].data_offsets');
  });

  it('unknown dtypes', () => {
    expectInvalid(fileFrom(`{"x":${entry('F128', [1], [0, 16])}}`, new Array<number>(16).fill(0)), 'header["x"].dtype');
    expectInvalid(fileFrom(`{"x":${entry('f32', [1], [0, 4])}}`, [0, 0, 0, 0]), 'header["x"].dtype');
  });

  it('negative, fractional and huge shape dimensions', () => {
    expectInvalid(fileFrom(`{"x":${entry('F32', [-1], [0, 4])}}`, [0, 0, 0, 0]), 'header["x"].shape[0]');
    expectInvalid(fileFrom(`{"x":${entry('F32', [1, 0.5], [0, 4])}}`, [0, 0, 0, 0]), 'header["x"].shape[1]');
    expectInvalid(fileFrom(`{"x":${entry('F32', [0, 2 ** 40], [0, 0])}}`), 'header["x"].shape[1]');
    expectInvalid(fileFrom('{"x":{"dtype":"F32","shape":[0,1e400],"data_offsets":[0,0]}}'), 'header["x"].shape[1]');
    expectInvalid(fileFrom(`{"x":${entry('U8', [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], [0, 1])}}`, [0]), 'header["x"].shape');
  });

  it('byte lengths that disagree with shape and dtype', () => {
    expectInvalid(fileFrom(`{"x":${entry('F32', [2], [0, 4])}}`, [0, 0, 0, 0]), 'header["x"].data_offsets');
    expectInvalid(fileFrom(`{"x":${entry('F16', [2], [0, 8])}}`, new Array<number>(8).fill(0)), 'header["x"].data_offsets');
    expectInvalid(fileFrom(`{"x":${entry('F32', [1], [4, 0])}}`, [0, 0, 0, 0]), 'header["x"].data_offsets');
  });

  it('offsets out of range, overlapping, with gaps, or not covering the buffer', () => {
    expectInvalid(fileFrom(`{"x":${entry('F32', [1], [0, 4])}}`, [0, 0]), 'header["x"].data_offsets');
    const two = (a: number[], b: number[], data: number) =>
      fileFrom(`{"a":${entry('F32', [1], a)},"b":${entry('F32', [1], b)}}`, new Array<number>(data).fill(0));
    expectInvalid(two([0, 4], [2, 6], 8), 'header["b"].data_offsets');
    expectInvalid(two([0, 4], [0, 4], 4), 'header["b"].data_offsets');
    expectInvalid(two([0, 4], [8, 12], 12), 'header["b"].data_offsets');
    expectInvalid(two([4, 8], [8, 12], 12), 'header["a"].data_offsets');
    expectInvalid(two([0, 4], [4, 8], 9), 'data');
    expect(parseSafetensorsHeader(two([4, 8], [0, 4], 8)).entries.map((e) => e.name)).toEqual(['b', 'a']);
  });

  it('duplicate keys, at the top level and inside entries', () => {
    expectInvalid(fileFrom(`{"x":${entry('F32', [1], [0, 4])},"x":${entry('F32', [1], [0, 4])}}`, [0, 0, 0, 0]), 'header');
    expectInvalid(fileFrom('{"x":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'header');
    expectInvalid(fileFrom('{"\\u0078":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Array<number>(8).fill(0)), 'header');
    // The same text inside a string value is not a key.
    const fine = fileFrom('{"__metadata__":{"a":"x\\":","b":"x\\":"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]);
    expect(parseSafetensorsHeader(fine).metadata).toEqual({ a: 'x":', b: 'x":' });
  });

  it('metadata values that are not strings, and empty names', () => {
    expectInvalid(fileFrom('{"__metadata__":{"epoch":3}}'), '__metadata__.epoch');
    expectInvalid(fileFrom('{"__metadata__":["a"]}'), '__metadata__');
    expectInvalid(fileFrom(`{"":${entry('F32', [1], [0, 4])}}`, [0, 0, 0, 0]), 'header');
  });

  it('accepts what the reference accepts: trailing spaces, null metadata, zero-size tensors, scalars', () => {
    const header = parseSafetensorsHeader(
      fileFrom(`{"__metadata__":null,"e":${entry('F32', [0, 4], [0, 0])},"s":${entry('I32', [], [0, 4])}}    `, [7, 0, 0, 0]),
    );
    expect(header.metadata).toEqual({});
    expect(header.entries.map((e) => [e.name, e.shape])).toEqual([
      ['e', [0, 4]],
      ['s', []],
    ]);
  });

  it('names like __proto__ stay plain data', () => {
    const { tensors } = decodeSafetensors(fileFrom(`{"__proto__":${entry('F32', [1], [0, 4])}}`, [0, 0, 0xc0, 0x3f]));
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    tf.dispose(Object.values(tensors));
  });
});
