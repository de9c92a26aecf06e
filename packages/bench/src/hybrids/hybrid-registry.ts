import { PeftError, defaultRegistry, describeValue, type MethodRegistry } from '@peftjs/core';
import { isHybrid, type Hybrid } from './define-hybrid';

/** A name -> hybrid table: what `peftjs methods` lists beside the registered methods and what runs by name. */
export interface HybridRegistry {
  /** Adds a hybrid; another one under the same name is a 'duplicate-method' error (the same object again is fine). */
  register(hybrid: Hybrid): void;
  has(name: string): boolean;
  /** The hybrid of that name; unknown is an 'unknown-method' error listing the registered ones. */
  get(name: string): Hybrid;
  /** Registered hybrids, in registration order. */
  list(): Hybrid[];
}

/** A hybrid registry the caller owns. */
export function createHybridRegistry(hybrids: Iterable<Hybrid> = []): HybridRegistry {
  const byName = new Map<string, Hybrid>();
  const registry: HybridRegistry = {
    register(hybrid) {
      if (!isHybrid(hybrid)) {
        throw new PeftError('invalid-argument', `registerHybrid() takes a hybrid made by defineHybrid; got ${describeValue(hybrid)}.`, { field: 'hybrid', value: hybrid, allowed: 'a Hybrid (defineHybrid(...))' });
      }
      const existing = byName.get(hybrid.name);
      if (existing === hybrid) return;
      if (existing) {
        throw new PeftError('duplicate-method', `A different hybrid named "${hybrid.name}" is already registered (from ${existing.packageName}; this one from ${hybrid.packageName}).`, {
          field: 'name',
          value: hybrid.name,
          allowed: 'a name not yet registered',
        });
      }
      byName.set(hybrid.name, hybrid);
    },
    has: (name) => byName.has(name),
    get(name) {
      const found = byName.get(name);
      if (found) return found;
      throw new PeftError('unknown-method', `Unknown hybrid "${name}". Registered: ${[...byName.keys()].join(', ') || '(none)'}.`, { field: 'name', value: name, allowed: [...byName.keys()] });
    },
    list: () => [...byName.values()],
  };
  for (const hybrid of hybrids) registry.register(hybrid);
  return registry;
}

const DEFAULT_HYBRIDS_KEY = Symbol.for('peftjs.defaultHybrids');

/**
 * The hybrids `@peftjs/bench/register` adds MAM, UniPELT and S4 to, and where `registerHybrid`
 * puts a user's own. Kept on globalThis, so duplicate copies of the bench share it.
 */
export const defaultHybrids: HybridRegistry = ((): HybridRegistry => {
  const holder = globalThis as unknown as Record<symbol, HybridRegistry | undefined>;
  return (holder[DEFAULT_HYBRIDS_KEY] ??= createHybridRegistry());
})();

const NO_HYBRIDS = createHybridRegistry();

/**
 * The hybrids that go with a method registry: the default ones with core's default registry; none
 * with a registry of the caller's own (whose owner registers hybrids in a registry of theirs).
 */
export function hybridsFor(registry: MethodRegistry): HybridRegistry {
  return registry === defaultRegistry ? defaultHybrids : NO_HYBRIDS;
}

/** Registers a hybrid into the default hybrid registry, so the bench and the CLI run it by name. */
export function registerHybrid(hybrid: Hybrid): void {
  defaultHybrids.register(hybrid);
}
