import type { z } from 'zod';
import { PeftError, describeValue } from '../errors/peft-error';
import { configErrorFromZod } from './config-error';
import { deepFreeze } from './deep-freeze';
import type { AnyPeftMethod } from './erased-types';
import { METHOD_KINDS, PEFT_METHOD_SPEC_VERSION, type MethodConfig, type PeftMethod, type PeftMethodDefinition } from './types';

/** Lowercase names with an optional `scope/` namespace: `lora`, `ln-tuning`, `acme/vera`. */
export const METHOD_NAME_PATTERN = /^(?:[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/**
 * Makes a method plugin from its definition: a function that validates a config and returns a
 * frozen MethodConfig, carrying the definition's fields and `parseConfig`.
 *
 * @example
 * const scale = definePeftMethod({
 *   specificationVersion: 'v1', name: 'acme/scale', packageName: '@acme/scale', kind: 'additive',
 *   configSchema: z.object({ init: z.number().default(1) }),
 *   apply: (model, config) => ...,
 * });
 * const configured = scale({ init: 0.5 }); // { method: scale, config: { init: 0.5 } }
 */
export function definePeftMethod<Schema extends z.ZodType>(definition: PeftMethodDefinition<Schema>): PeftMethod<Schema> {
  validateDefinition(definition);
  const parseConfig = (config: unknown): z.output<Schema> => {
    const result = definition.configSchema.safeParse(config === undefined ? {} : config);
    if (!result.success) throw configErrorFromZod(definition.name, result.error, config, definition.configSchema);
    return deepFreeze(result.data);
  };
  const configure = (config?: z.input<Schema>): MethodConfig<z.output<Schema>> =>
    Object.freeze({ method: method as AnyPeftMethod, config: parseConfig(config) });
  const { name, ...rest } = definition;
  const method = Object.assign(configure, rest, { parseConfig }) as unknown as PeftMethod<Schema>;
  // A function's own `name` is read-only to assignment; define it so `lora.name === 'lora'`.
  Object.defineProperty(method, 'name', { value: name, enumerable: true });
  return Object.freeze(method);
}

/** True for objects made by definePeftMethod (or structurally equivalent ones). */
export function isPeftMethod(value: unknown): value is PeftMethod {
  return (
    typeof value === 'function' &&
    (value as Partial<PeftMethod>).specificationVersion !== undefined &&
    typeof (value as Partial<PeftMethod>).parseConfig === 'function' &&
    typeof (value as Partial<PeftMethod>).apply === 'function'
  );
}

function validateDefinition(definition: PeftMethodDefinition<z.ZodType>): void {
  const fail = (field: string, value: unknown, allowed: string | readonly string[]): never => {
    throw new PeftError('invalid-argument', `Invalid method definition ${field}: got ${describeValue(value)}; allowed: ${typeof allowed === 'string' ? allowed : allowed.join(', ')}.`, {
      field,
      value,
      allowed,
    });
  };
  if (typeof definition !== 'object' || definition === null) fail('definition', definition, 'an object');
  if (definition.specificationVersion !== PEFT_METHOD_SPEC_VERSION) fail('specificationVersion', definition.specificationVersion, [PEFT_METHOD_SPEC_VERSION]);
  if (typeof definition.name !== 'string' || !METHOD_NAME_PATTERN.test(definition.name)) {
    fail('name', definition.name, 'lowercase letters, digits, "-", "." or "_", with an optional "scope/" namespace (e.g. "lora", "acme/vera")');
  }
  if (typeof definition.packageName !== 'string' || definition.packageName === '') fail('packageName', definition.packageName, 'a non-empty npm package name');
  if (!(METHOD_KINDS as readonly string[]).includes(definition.kind)) fail('kind', definition.kind, METHOD_KINDS);
  if (typeof definition.configSchema?.safeParse !== 'function') fail('configSchema', definition.configSchema, 'a zod schema');
  if (typeof definition.apply !== 'function') fail('apply', definition.apply, 'a function (model, config, context) => AppliedMethod');
}
