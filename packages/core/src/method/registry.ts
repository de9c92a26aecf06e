import { PeftError, describeValue } from '../errors/peft-error';
import { BUILTIN_METHOD_PACKAGES } from './builtin-method-packages';
import { isPeftMethod } from './define-method';
import type { AnyPeftMethod } from './erased-types';

/** A name -> method table. Loading a saved adapter looks its methods up in one. */
export interface MethodRegistry {
  /** Adds a method; another method under the same name is a 'duplicate-method' error (the same object again is fine). */
  register(method: AnyPeftMethod): void;
  /**
   * The method of that name; unknown is an 'unknown-method' error naming the package that
   * provides it (`packageHint` from a manifest, or the built-in table).
   */
  get(name: string, packageHint?: string): AnyPeftMethod;
  has(name: string): boolean;
  /** Registered methods, in registration order. */
  list(): AnyPeftMethod[];
}

/** A registry the caller owns. The main path of the library needs no global state. */
export function createRegistry(methods: Iterable<AnyPeftMethod> = []): MethodRegistry {
  const byName = new Map<string, AnyPeftMethod>();
  const registry: MethodRegistry = {
    register(method) {
      if (!isPeftMethod(method)) {
        throw new PeftError('invalid-argument', `register() takes a method made by definePeftMethod; got ${describeValue(method)}.`, {
          field: 'method',
          value: method,
          allowed: 'a PeftMethod (definePeftMethod(...))',
        });
      }
      const existing = byName.get(method.name);
      if (existing === method) return;
      if (existing) {
        throw new PeftError(
          'duplicate-method',
          `A different method named "${method.name}" is already registered (from ${existing.packageName}; this one from ${method.packageName}). ` +
            'Two copies of a package may be installed: deduplicate them, or register into your own createRegistry().',
          { field: 'name', value: method.name, allowed: 'a name not yet registered' },
        );
      }
      byName.set(method.name, method);
    },
    get(name, packageHint) {
      const found = byName.get(name);
      if (found) return found;
      throw unknownMethodError(name, [...byName.keys()], packageHint);
    },
    has: (name) => byName.has(name),
    list: () => [...byName.values()],
  };
  for (const method of methods) registry.register(method);
  return registry;
}

function unknownMethodError(name: string, registered: readonly string[], packageHint: string | undefined): PeftError {
  const packageName = packageHint ?? BUILTIN_METHOD_PACKAGES[name];
  const how = packageName
    ? `It is provided by ${packageName}: install it and add \`import '${packageName}/register'\` (or registry.register() its method).`
    : 'Register the method (registry.register(method), or the providing package\'s `register` entry) before using it.';
  return new PeftError('unknown-method', `Unknown PEFT method "${name}". ${how} Registered: ${registered.join(', ') || '(none)'}.`, {
    field: 'name',
    value: name,
    allowed: registered,
  });
}

const DEFAULT_REGISTRY_KEY = Symbol.for('peftjs.defaultRegistry');

/**
 * The registry family packages' `register` entries add to (`import '@peftjs/lora/register'`).
 * Kept on globalThis under a Symbol.for key, so duplicate copies of @peftjs/core share it.
 */
export const defaultRegistry: MethodRegistry = ((): MethodRegistry => {
  const holder = globalThis as unknown as Record<symbol, MethodRegistry | undefined>;
  return (holder[DEFAULT_REGISTRY_KEY] ??= createRegistry());
})();

/** Registers a method into the default registry. */
export function registerMethod(method: AnyPeftMethod): void {
  defaultRegistry.register(method);
}
