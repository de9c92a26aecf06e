import { defaultRegistry, type MethodKind, type MethodRegistry } from '@peftjs/core';
import { hybridsFor, type HybridRegistry } from '../hybrids/hybrid-registry';
import { FULL_FINE_TUNING } from '../report/results';

/** The first-party family packages whose `register` entry the bench imports when they are installed. */
export const METHOD_FAMILY_PACKAGES = ['@peftjs/lora', '@peftjs/adapters', '@peftjs/selective', '@peftjs/sparse-mask', '@peftjs/prompts'] as const;

/** What `loadInstalledMethodFamilies` found. */
export interface MethodFamilyLoad {
  loaded: string[];
  /** Packages that are not installed (or failed to load), with the reason. */
  skipped: Array<{ packageName: string; reason: string }>;
}

/**
 * Imports the `register` entry of every installed family package, so their methods join core's
 * default registry. A package that is not installed is skipped (one that is installed but fails to
 * load throws): adding a family adds rows to the bench without editing it.
 */
export async function loadInstalledMethodFamilies(packages: readonly string[] = METHOD_FAMILY_PACKAGES): Promise<MethodFamilyLoad> {
  const result: MethodFamilyLoad = { loaded: [], skipped: [] };
  for (const packageName of packages) {
    const specifier = `${packageName}/register`;
    try {
      await import(/* @vite-ignore */ specifier);
      result.loaded.push(packageName);
    } catch (error) {
      if (!isNotInstalled(error, packageName)) throw error;
      result.skipped.push({ packageName, reason: (error as Error).message.split('\n')[0] ?? String(error) });
    }
  }
  await import('../register');
  return result;
}

/** Only a package that cannot be found (or has no `register` entry) is skipped; one that fails while loading is a real error. */
function isNotInstalled(error: unknown, packageName: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return true;
  return typeof message === 'string' && message.includes(packageName) && /cannot find|failed to (load|resolve)|not found|missing ".*" specifier/i.test(message);
}

/** One row of `peftjs methods`. */
export interface MethodListing {
  name: string;
  packageName: string;
  kind: MethodKind | 'full';
  description: string;
  /** For a hybrid: its parts' method names, in order. */
  parts?: string[];
  /** For a hybrid: the packages its unregistered parts need (running it fails until they are installed). */
  needs?: string[];
}

/** Full fine-tuning (built in), every method of the registry in registration order, then the registered hybrids. */
export function listMethods(registry: MethodRegistry = defaultRegistry, hybrids: HybridRegistry = hybridsFor(registry)): MethodListing[] {
  return [
    { name: FULL_FINE_TUNING, packageName: '@peftjs/core', kind: 'full', description: 'Full fine-tuning: every parameter trained (the reference of the ratios).' },
    ...registry.list().map((method) => ({ name: method.name, packageName: method.packageName, kind: method.kind, description: method.description ?? '' })),
    ...hybrids.list().map((hybrid) => {
      const missing = hybrid.parts.filter((part) => !registry.has(part.method));
      const needs = [...new Set(missing.map((part) => registry.providerOf(part.method) ?? part.method))];
      return {
        name: hybrid.name,
        packageName: hybrid.packageName,
        kind: 'hybrid' as const,
        description: hybrid.description,
        parts: hybrid.parts.map((part) => part.method),
        ...(needs.length ? { needs } : {}),
      };
    }),
  ];
}

/** Method names a loaded package declares but has not registered (not built yet), with that package. */
export function unregisteredBuiltinMethods(registry: MethodRegistry = defaultRegistry, hybrids: HybridRegistry = hybridsFor(registry)): Array<{ name: string; packageName: string }> {
  return registry.declarations().flatMap((declaration) => declaration.methods.filter((name) => !registry.has(name) && !hybrids.has(name)).map((name) => ({ name, packageName: declaration.packageName })));
}
