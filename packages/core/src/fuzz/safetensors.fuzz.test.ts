import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors';
import { SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_SIZE } from '../io/safetensors-dtypes';
import { FUZZ_RUNS, acceptsOrRejectsTyped, hostileJson, hostileNumber, hostileString, mutateAt } from './hostile-input';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Decodes; accepted files must not hold more elements than they have bytes (nothing allocated from a declared size). */
function decodeChecked(bytes: Uint8Array): void {
  const before = tf.memory().numTensors;
  const accepted = acceptsOrRejectsTyped(() => {
    const { tensors } = decodeSafetensors(bytes);
    const elements = Object.values(tensors).reduce((total, tensor) => total + tensor.size, 0);
    tf.dispose(Object.values(tensors));
    expect(elements).toBeLessThanOrEqual(bytes.length);
  });
  expect(tf.memory().numTensors, accepted ? 'accepted' : 'rejected, leaking nothing').toBe(before);
}

function fileOf(header: unknown, data: Uint8Array, declaredLength?: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + text.length + data.length);
  const view = new DataView(bytes.buffer);
  const length = declaredLength ?? text.length;
  view.setUint32(0, length % 2 ** 32, true);
  view.setUint32(4, Math.floor(length / 2 ** 32) % 2 ** 32, true);
  bytes.set(text, 8);
  bytes.set(data, 8 + text.length);
  return bytes;
}

const entry = fc.record(
  {
    dtype: fc.oneof(fc.constantFrom(...SAFETENSORS_DTYPES), hostileString, hostileJson),
    shape: fc.oneof(fc.array(fc.oneof(fc.nat(6), hostileNumber), { maxLength: 5 }), hostileJson),
    data_offsets: fc.oneof(fc.tuple(fc.nat(64), fc.nat(64)), fc.tuple(hostileNumber, hostileNumber), hostileJson),
  },
  { requiredKeys: [] },
);

describe('the safetensors reader on hostile input', () => {
  it('rejects arbitrary bytes with a typed error naming the field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.option(fc.nat(120)), (bytes, smallLength) => {
        // Half the time, a plausible header length so the reader gets past the first check.
        if (smallLength !== null && bytes.length >= 8) new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, BigInt(smallLength), true);
        decodeChecked(bytes);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('rejects hostile headers (dtypes, shapes, offsets, metadata, declared lengths) with a typed error naming the field', () => {
    fc.assert(
      fc.property(
        fc.dictionary(hostileString, entry, { maxKeys: 3 }),
        fc.option(fc.oneof(fc.dictionary(hostileString, fc.oneof(hostileString, hostileJson), { maxKeys: 2 }), hostileJson)),
        fc.uint8Array({ maxLength: 64 }),
        fc.option(fc.oneof(hostileNumber.filter((n) => Number.isSafeInteger(n) && n >= 0), fc.constantFrom(2 ** 53 - 1, 100_000_001, 2 ** 32 + 3))),
        (entries, metadata, data, declaredLength) => {
          const header: Record<string, unknown> = { ...entries };
          if (metadata !== null) header['__metadata__'] = metadata;
          decodeChecked(fileOf(header, data, declaredLength ?? undefined));
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('rejects near-valid headers with one hostile field (every check is reached) with a typed error naming the field', () => {
    const validEntries = fc.array(fc.tuple(fc.constantFrom(...SAFETENSORS_DTYPES), fc.array(fc.nat(3), { maxLength: 3 })), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(
        validEntries,
        fc.nat(2),
        fc.constantFrom('dtype', 'shape', 'data_offsets', 'shape.0', 'data_offsets.0', 'data_offsets.1'),
        fc.oneof(hostileJson, hostileNumber, fc.constant([0, 2 ** 31 - 1, 2 ** 31 - 1]), fc.constant([2 ** 31 - 1, 2 ** 31 - 1])),
        fc.boolean(),
        (specs, which, field, value, remove) => {
          let offset = 0;
          const header: Record<string, unknown> = {};
          specs.forEach(([dtype, shape], i) => {
            const bytes = shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_SIZE[dtype];
            header[`t${i}`] = { dtype, shape, data_offsets: [offset, offset + bytes] };
            offset += bytes;
          });
          const target = `t${which % specs.length}`;
          const mutated = mutateAt(header, [target, ...field.split('.')], value, remove);
          decodeChecked(fileOf(mutated, new Uint8Array(offset)));
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('rejects valid files with flipped, cut or inserted bytes, or decodes them within their size', () => {
    const valid = tf.tidy(() =>
      encodeSafetensors(
        { weight: tf.tensor2d([[1, 2, 3], [4, 5, 6]]), ids: tf.tensor1d([1, 2, 3, 4], 'int32'), flags: tf.tensor1d([1, 0, 1], 'bool') },
        { format: 'pt' },
      ),
    );
    expect(() => tf.dispose(Object.values(decodeSafetensors(valid).tensors))).not.toThrow();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(valid.length),
        fc.constantFrom('flip', 'cut', 'insert'),
        (edits, at, how) => {
          let bytes = valid.slice();
          if (how === 'flip') for (const [index, value] of edits) bytes[index] = value;
          else if (how === 'cut') bytes = bytes.slice(0, at);
          else bytes = new Uint8Array([...bytes.slice(0, at), ...edits.map(([, value]) => value), ...bytes.slice(at)]);
          decodeChecked(bytes);
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });
});
