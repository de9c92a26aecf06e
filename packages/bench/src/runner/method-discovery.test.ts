import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { listMethods, loadInstalledMethodFamilies, unregisteredBuiltinMethods } from './method-discovery';
import { testRegistry } from './test-support';

describe('method discovery', () => {
  it('skips packages that are not installed or have no register entry', async () => {
    const namesBefore = defaultRegistry.list().map((method) => method.name);
    const { loaded, skipped } = await loadInstalledMethodFamilies(['@peftjs/no-such-family', '@peftjs/core']);
    expect(skipped.map((entry) => entry.packageName)).toEqual(['@peftjs/no-such-family', '@peftjs/core']);
    expect(loaded).toEqual([]);
    expect(defaultRegistry.list().map((method) => method.name)).toEqual(namesBefore);
  });

  it('loads an installed family through its register entry into the default registry', async () => {
    const { loaded, skipped } = await loadInstalledMethodFamilies(['@peftjs/lora']);
    expect([loaded, skipped]).toEqual([['@peftjs/lora'], []]);
    const methods = defaultRegistry.list();
    expect(methods.map((method) => method.name)).toContain('lora');
    expect(methods.every((method) => typeof method.apply === 'function')).toBe(true);
  });

  it('lists full fine-tuning first, then the registry, and the built-in names not registered with their package', () => {
    const registry = testRegistry();
    expect(listMethods(registry).map((method) => [method.name, method.packageName, method.kind])).toEqual([
      ['full', '@peftjs/core', 'full'],
      ['test-bias', '@peftjs/bench-test', 'selective'],
    ]);
    expect(unregisteredBuiltinMethods(registry)).toContainEqual({ name: 'lora', packageName: '@peftjs/lora' });
  });
});
