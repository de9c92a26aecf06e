import { PeftError, defaultRegistry, type MethodRegistry } from '@peftjs/core';
import { defineHybrid, type Hybrid, type HybridPart } from './define-hybrid';
import { hybridsFor, type HybridRegistry } from './hybrid-registry';

/** Joins the names of a composition by name: `lora+bitfit`. */
export const COMPOSITION_SEPARATOR = '+';

/**
 * The hybrid a `+`-joined name stands for (`lora+bitfit`, `mam+bitfit`): each name is a registered
 * method with its default config, or a registered hybrid whose parts are spliced in. The result is
 * checked like any hybrid when resolved (`configs()`).
 */
export function composeByName(name: string, options: { registry?: MethodRegistry; hybrids?: HybridRegistry; field?: string } = {}): Hybrid {
  const hybrids = options.hybrids ?? hybridsFor(options.registry ?? defaultRegistry);
  const field = options.field ?? 'methods';
  const names = name.split(COMPOSITION_SEPARATOR).map((item) => item.trim());
  if (names.length < 2 || names.some((item) => item === '')) {
    throw new PeftError('invalid-argument', `Invalid ${field}: "${name}" is not a composition; allowed: method names joined by "+" (e.g. lora+bitfit).`, {
      field,
      value: name,
      allowed: 'method names joined by "+" (e.g. lora+bitfit)',
    });
  }
  const parts: HybridPart[] = names.flatMap((item): HybridPart[] => (hybrids.has(item) ? hybrids.get(item).parts.map((part) => ({ ...part, label: `${item}.${part.label}` })) : [{ method: item }]));
  return defineHybrid({ name: names.join(COMPOSITION_SEPARATOR), description: `Composition of ${names.join(', ')}.`, parts });
}
