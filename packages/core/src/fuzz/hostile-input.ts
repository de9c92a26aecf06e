/**
 * Shared pieces of the fuzz suite (test-only, not exported): arbitraries of hostile JSON values and
 * the property every reader must keep on them.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { PeftError } from '../errors/peft-error';

/** Runs per property: the issue asks for at least 1,000 hostile inputs per reader. */
export const FUZZ_RUNS = 1000;

/** Numbers a size or count field must survive: zero, negatives, fractions, the 32/53-bit edges, huge values. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 0.5, 1e-320, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, 1e21, 1e308, -1e308, Number.MAX_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Strings with prototype keys, separators, control and astral characters. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '__proto__', 'constructor', 'prototype', 'toString', '..', '/', '.', '*', '\u0000', '\ud83d\ude00', 'a'.repeat(300)),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** Any JSON value, biased towards hostile leaves. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileNumber,
    hostileString,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Replaces the value at one path of a JSON object with a hostile one (or deletes it). */
export function mutateAt(base: Record<string, unknown>, path: readonly string[], replacement: unknown, remove: boolean): Record<string, unknown> {
  const copy = structuredClone(base);
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) return copy;
    node = next as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = replacement;
  return copy;
}

/**
 * The property: a reader given hostile input either accepts it or throws a PeftError that names the
 * offending field (a non-empty `field`). Anything else (a TypeError, a RangeError from an
 * allocation, a plain Error) fails the fuzz run, which then shrinks to the smallest such input.
 */
export function expectTypedRejection(error: unknown): void {
  expect(PeftError.isInstance(error), `a PeftError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`).toBe(true);
  const { field, message } = error as PeftError;
  expect(typeof field === 'string' && field.length > 0, `a named field in: ${message}`).toBe(true);
}

/** Calls `read`; a throw must be a typed rejection. Returns whether the input was accepted. */
export function acceptsOrRejectsTyped(read: () => unknown): boolean {
  try {
    read();
    return true;
  } catch (error) {
    expectTypedRejection(error);
    return false;
  }
}

/** The async form of acceptsOrRejectsTyped. */
export async function acceptsOrRejectsTypedAsync(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (error) {
    expectTypedRejection(error);
    return false;
  }
}
