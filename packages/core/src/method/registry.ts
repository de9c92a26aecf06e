import { PeftError, describeValue } from '../errors/peft-error';
import { isPeftMethod } from './define-method';
import type { AnyPeftMethod } from './erased-types';
import { gateMethod } from './gate/method';

/**
 * What a package says it provides, so errors can name the package to install: the method names
 * (also those it has not registered, or not implemented yet) and the HF PEFT `peft_type`s it reads.
 * A family's `register` entry declares itself; nothing about families is written into core.
 */
export interface PackageDeclaration {
  packageName: string;
  methods: readonly string[];
  hfPeftTypes?: readonly string[];
}

/** A name -> method table. Loading a saved adapter looks its methods up in one. */
export interface MethodRegistry {
  /** Records what a package provides (see PackageDeclaration); a later declaration of the same package replaces it. */
  declarePackage(declaration: PackageDeclaration): void;
  /** Every declaration, in order. */
  declarations(): PackageDeclaration[];
  /** The package that provides a method name: a registered method's, else a declaration's. */
  providerOf(name: string): string | undefined;
  /** The package that declares it reads an HF PEFT `peft_type`. */
  hfProviderOf(peftType: string): string | undefined;
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
  const declared = new Map<string, PackageDeclaration>();
  const registry: MethodRegistry = {
    declarePackage(declaration) {
      if (typeof declaration?.packageName !== 'string' || declaration.packageName === '' || !Array.isArray(declaration.methods)) {
        throw new PeftError('invalid-argument', `declarePackage() takes { packageName, methods[], hfPeftTypes? }; got ${describeValue(declaration)}.`, {
          field: 'declaration',
          value: declaration,
          allowed: '{ packageName: string, methods: string[], hfPeftTypes?: string[] }',
        });
      }
      declared.set(declaration.packageName, { packageName: declaration.packageName, methods: [...declaration.methods], ...(declaration.hfPeftTypes ? { hfPeftTypes: [...declaration.hfPeftTypes] } : {}) });
    },
    declarations: () => [...declared.values()],
    providerOf: (name) => byName.get(name)?.packageName ?? [...declared.values()].find((declaration) => declaration.methods.includes(name))?.packageName,
    hfProviderOf: (peftType) =>
      [...byName.values()].find((method) => method.hf?.peftType === peftType)?.packageName ??
      [...declared.values()].find((declaration) => declaration.hfPeftTypes?.includes(peftType))?.packageName,
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
      throw unknownMethodError(name, [...byName.keys()], packageHint ?? registry.providerOf(name));
    },
    has: (name) => byName.has(name),
    list: () => [...byName.values()],
  };
  for (const method of methods) registry.register(method);
  return registry;
}

function unknownMethodError(name: string, registered: readonly string[], packageHint: string | undefined): PeftError {
  const packageName = packageHint;
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
  // Core's own method (gates on other methods' contributions) is always there.
  return (holder[DEFAULT_REGISTRY_KEY] ??= createRegistry([gateMethod]));
})();

/** Records a package's declaration in the default registry (see PackageDeclaration). */
export function declarePackage(declaration: PackageDeclaration): void {
  defaultRegistry.declarePackage(declaration);
}

/** Registers a method into the default registry. */
export function registerMethod(method: AnyPeftMethod): void {
  defaultRegistry.register(method);
}
