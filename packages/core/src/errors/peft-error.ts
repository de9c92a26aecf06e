const marker = Symbol.for('peftjs.error');

/** Every error code peftjs throws. String ids as typed constants, so callers can switch on them. */
export type PeftErrorCode =
  | 'invalid-config'
  | 'selector-no-match'
  | 'checkpoint-mismatch'
  | 'safetensors-invalid'
  | 'not-mergeable'
  | 'merge-not-finite'
  | 'unknown-method'
  | 'duplicate-method'
  | 'composition-conflict'
  | 'backend-unavailable'
  | 'non-finite-loss'
  | 'invalid-argument'
  | 'not-implemented';

export interface PeftErrorOptions {
  /** The offending field, as a dotted path (`config.r`, `header.weight.dtype`). */
  field?: string;
  /** The offending value, as given. */
  value?: unknown;
  /** What is allowed instead, in words or as a list. */
  allowed?: string | readonly string[];
  cause?: unknown;
}

/**
 * Base of every error peftjs throws. Recognise it with `PeftError.isInstance(e)`, which works
 * across duplicate copies of the package (a `Symbol.for` marker, not `instanceof`).
 */
export class PeftError extends Error {
  private readonly [marker] = true;
  readonly code: PeftErrorCode;
  readonly field: string | undefined;
  readonly value: unknown;
  readonly allowed: string | readonly string[] | undefined;

  constructor(code: PeftErrorCode, message: string, options: PeftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PeftError';
    this.code = code;
    this.field = options.field;
    this.value = options.value;
    this.allowed = options.allowed;
  }

  static isInstance(error: unknown): error is PeftError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }

  static hasCode<C extends PeftErrorCode>(error: unknown, code: C): error is PeftError & { code: C } {
    return PeftError.isInstance(error) && error.code === code;
  }
}

/** Formats a value for an error message without dumping huge objects. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Formats the allowed values for an error message. */
export function describeAllowed(allowed: string | readonly string[]): string {
  return typeof allowed === 'string' ? allowed : allowed.join(', ');
}

/** Throws a PeftError('invalid-argument') that names the field, the value and what is allowed. */
export function invalidArgument(field: string, value: unknown, allowed: string | readonly string[]): never {
  throw new PeftError(
    'invalid-argument',
    `Invalid ${field}: got ${describeValue(value)}; allowed: ${describeAllowed(allowed)}.`,
    { field, value, allowed },
  );
}
