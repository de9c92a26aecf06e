import type { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { writeFileAtomic } from './atomic-write';
import { readFileBytes } from './read-file';

/**
 * Reads and parses a JSON file. With a zod schema the value is validated and typed; an invalid
 * value is a PeftError('invalid-config') naming the first offending field.
 */
export async function readJsonFile(path: string): Promise<unknown>;
export async function readJsonFile<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>>;
export async function readJsonFile(path: string, schema?: z.ZodType): Promise<unknown> {
  const text = new TextDecoder().decode(await readFileBytes(path, 'JSON file'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PeftError('invalid-config', `${path} is not valid JSON: ${(error as Error).message}`, { field: 'path', value: path, allowed: 'a JSON file', cause: error });
  }
  if (!schema) return value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // An issue with the document itself (not an object, say) has an empty path: name the root then.
  const field = issue?.path.map(String).join('.') || '(root)';
  throw new PeftError('invalid-config', `${path}: ${field}: ${issue?.message ?? 'invalid value'}.`, {
    field,
    value: valueAt(value, issue?.path ?? []),
    allowed: issue?.message ?? 'a valid value',
  });
}

/** Writes a value as pretty-printed JSON (2-space indent, trailing newline), atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
