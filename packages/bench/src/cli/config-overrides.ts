import { readFile } from 'node:fs/promises';
import { invalidArgument } from '@peftjs/core';

/**
 * Config overrides from the command line: `key=value` pairs (dotted keys set nested fields:
 * `targets.layers=[0,1]`; values are read as JSON when they parse, else as strings) and JSON files
 * (`--config overrides.json`), merged in order. Returns one nested object.
 */
export async function parseConfigOverrides(items: readonly string[], option = '--config'): Promise<Record<string, unknown>> {
  let merged: Record<string, unknown> = {};
  for (const item of items) {
    const equals = item.indexOf('=');
    if (equals < 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(item, 'utf8'));
      } catch (error) {
        invalidArgument(option, item, `key=value, or a JSON file of config fields (${(error as Error).message.split('\n')[0]})`);
      }
      if (!isPlainObject(parsed)) invalidArgument(option, item, 'a JSON file holding an object of config fields');
      merged = deepMerge(merged, parsed);
      continue;
    }
    const key = item.slice(0, equals).trim();
    const raw = item.slice(equals + 1);
    if (key === '' || key.split('.').some((part) => part === '')) invalidArgument(option, item, 'key=value with a non-empty (dotted) key, e.g. r=4 or targets.layers=[0,1]');
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the text itself (`init=gaussian`).
    }
    const nested = key
      .split('.')
      .reverse()
      .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
    merged = deepMerge(merged, nested);
  }
  return merged;
}

/** `base` with `over` laid on top; plain objects merge field by field, anything else replaces. */
export function deepMerge(base: Readonly<Record<string, unknown>>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key] as Record<string, unknown>, value) : value;
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}
