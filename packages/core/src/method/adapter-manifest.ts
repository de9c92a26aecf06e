import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { METHOD_KINDS } from './types';

/** File names of a saved adapter (HF PEFT's names, so the folder layout is familiar). */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** Marks an adapter_config.json as this library's manifest (as opposed to HF PEFT's own config). */
export const ADAPTER_MANIFEST_FORMAT = 'peftjs-adapter';
export const ADAPTER_MANIFEST_VERSION = 1;
/** safetensors metadata written with every adapter (HF writes the same for torch tensors). */
export const ADAPTER_SAFETENSORS_METADATA: Readonly<Record<string, string>> = Object.freeze({ format: 'pt' });

/** One method of a saved adapter. */
export const manifestMethodSchema = z.object({
  /** Registered method name. */
  name: z.string().min(1),
  /** npm package that provides it. */
  package: z.string().min(1),
  packageVersion: z.string().optional(),
  kind: z.enum(METHOD_KINDS),
  adapterName: z.string().min(1),
  /** The parsed config, in JSON form (RegExps as `{ regex, flags }`). */
  config: z.unknown(),
});

/** The manifest a composed adapter is saved with (`adapter_config.json`). */
export const adapterManifestSchema = z.object({
  format: z.literal(ADAPTER_MANIFEST_FORMAT),
  formatVersion: z.literal(ADAPTER_MANIFEST_VERSION),
  adapterName: z.string().min(1),
  methods: z.array(manifestMethodSchema).min(1),
});
export type AdapterManifest = z.output<typeof adapterManifestSchema>;
export type ManifestMethod = z.output<typeof manifestMethodSchema>;

/** The key prefix of a method's tensors in adapter_model.safetensors: index and name, so two methods never collide. */
export function methodTensorPrefix(index: number, methodName: string): string {
  return `${index}.${methodName}.`;
}

/**
 * A config as JSON data: RegExps become `{ regex, flags }` (the form selectors accept back);
 * anything JSON cannot hold (functions, class instances, non-finite numbers) is an error rather
 * than silently lost.
 */
export function configToJson(value: unknown, field: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    return unsavable(field, value);
  }
  if (value === undefined) return undefined;
  if (value instanceof RegExp) return value.flags ? { regex: value.source, flags: value.flags } : { regex: value.source };
  if (Array.isArray(value)) return value.map((item, i) => configToJson(item, `${field}.${i}`) ?? null);
  if (typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const json = configToJson(item, `${field}.${key}`);
      if (json !== undefined) out[key] = json;
    }
    return out;
  }
  return unsavable(field, value);
}

function unsavable(field: string, value: unknown): never {
  throw new PeftError('invalid-config', `Config field ${field} cannot be saved as JSON (got ${Object.prototype.toString.call(value)} ${String(value)}).`, {
    field,
    value,
    allowed: 'JSON data: strings, finite numbers, booleans, null, arrays, plain objects, RegExps',
  });
}
