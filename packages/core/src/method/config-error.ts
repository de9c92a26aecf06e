import type { z } from 'zod';
import { PeftError, describeAllowed, describeValue } from '../errors/peft-error';

/** A zod issue as zod 4 reports it; only the fields read here. */
interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  values?: unknown[];
  keys?: string[];
  divisor?: number;
  format?: string;
  errors?: Issue[][];
}

/**
 * Turns the first issue of a failed zod parse into a PeftError('invalid-config') that names the
 * field as a dotted path under `root` (`lora.r`), the value given and what is allowed.
 */
export function configErrorFromZod(root: string, error: z.ZodError, input: unknown, schema?: z.ZodType): PeftError {
  const first = error.issues[0] as Issue | undefined;
  if (!first) return new PeftError('invalid-config', `Invalid ${root} config.`, { field: root, value: input, allowed: 'a valid config' });
  const { issue, path } = deepestIssue(first, []);
  const fieldPath = [...path];
  let value = valueAt(input, fieldPath);
  let allowed = allowedByIssue(issue);
  if (issue.code === 'unrecognized_keys' && issue.keys?.[0] !== undefined) {
    const known = schema ? objectKeysAt(schema, fieldPath) : undefined;
    fieldPath.push(issue.keys[0]);
    value = valueAt(input, fieldPath);
    allowed = known ? known : 'only the fields the schema defines';
  }
  const field = [root, ...fieldPath.map(String)].join('.');
  const extra = issue.code === 'unrecognized_keys' ? 'unknown field' : `got ${describeValue(value)}`;
  return new PeftError('invalid-config', `Invalid config field ${field}: ${extra}; allowed: ${describeAllowed(allowed)}.`, {
    field,
    value,
    allowed,
    cause: error,
  });
}

/** In a union, the branch that got furthest (longest issue path) is the one the user meant. */
function deepestIssue(issue: Issue, prefix: PropertyKey[]): { issue: Issue; path: PropertyKey[] } {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return { issue, path };
  const firsts = issue.errors.map((branch) => branch[0]).filter((x): x is Issue => x !== undefined);
  const deepest = firsts.reduce<Issue | undefined>((best, candidate) => (!best || candidate.path.length > best.path.length ? candidate : best), undefined);
  if (deepest && deepest.path.length > 0) return deepestIssue(deepest, path);
  // Every branch failed on the value itself: what is allowed is the union of the branches.
  const alternatives = firsts.map((branch) => describeAllowed(allowedByIssue(branch)));
  return { issue: { ...issue, code: 'union-of', values: [...new Set(alternatives)] }, path };
}

function allowedByIssue(issue: Issue): string | readonly string[] {
  switch (issue.code) {
    case 'union-of':
      return (issue.values as string[]).join(' or ');
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a value of type ${issue.expected ?? 'unknown'}`;
    case 'too_small':
      return boundText(issue, issue.inclusive ? '>=' : '>', issue.minimum, 'at least', 'more than');
    case 'too_big':
      return boundText(issue, issue.inclusive ? '<=' : '<', issue.maximum, 'at most', 'fewer than');
    case 'invalid_value':
      return (issue.values ?? []).map((v) => describeValue(v));
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_format':
      return `a ${issue.format ?? 'well-formed'} string`;
    default:
      return issue.message;
  }
}

function boundText(issue: Issue, operator: string, bound: number | bigint | undefined, inclusiveWord: string, exclusiveWord: string): string {
  const word = issue.inclusive ? inclusiveWord : exclusiveWord;
  if (issue.origin === 'string') return `a string with ${word} ${bound} characters`;
  if (issue.origin === 'array' || issue.origin === 'set') return `${word} ${bound} items`;
  return `a number ${operator} ${bound}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

interface ZodInternals {
  _zod?: { def: { type: string; shape?: Record<string, ZodInternals>; innerType?: ZodInternals; element?: ZodInternals } };
}

/** The field names of the object schema at `path` (through defaults, optionals and arrays), if any. */
function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let current = schema as unknown as ZodInternals | undefined;
  const unwrap = (): void => {
    while (current?._zod?.def.innerType) current = current._zod.def.innerType;
  };
  unwrap();
  for (const key of path) {
    const def = current?._zod?.def;
    if (def?.type === 'object' && def.shape) current = def.shape[String(key)];
    else if (def?.type === 'array') current = def.element;
    else return undefined;
    unwrap();
  }
  const def = current?._zod?.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}
