import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { definePeftMethod } from './define-method';
import { createRegistry, defaultRegistry, registerMethod } from './registry';
import { biasOnly, scaleVector } from './test-fixtures';

function caught(fn: () => unknown): PeftError {
  try {
    fn();
  } catch (error) {
    if (PeftError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a PeftError');
}

describe('createRegistry', () => {
  it('registers, gets and lists methods in order', () => {
    const registry = createRegistry([scaleVector]);
    registry.register(biasOnly);
    expect(registry.get('test/bias-only')).toBe(biasOnly);
    expect(registry.has('test/scale')).toBe(true);
    expect(registry.has('lora')).toBe(false);
    expect(registry.list()).toEqual([scaleVector, biasOnly]);
  });

  it('accepts the same method twice but not a different one under the same name', () => {
    const registry = createRegistry([biasOnly]);
    registry.register(biasOnly);
    expect(registry.list()).toHaveLength(1);
    const impostor = definePeftMethod({ ...biasOnly, name: 'test/bias-only', packageName: '@other/copy' });
    const error = caught(() => registry.register(impostor));
    expect(error.code).toBe('duplicate-method');
    expect(error.message).toContain('@peftjs/test-fixtures');
    expect(error.message).toContain('@other/copy');
    expect(() => registry.register({ name: 'x' } as never)).toThrow(/definePeftMethod/);
  });

  it('names the package a declaration says provides an unknown method, and knows nothing of families otherwise', () => {
    const registry = createRegistry([biasOnly]);
    expect(caught(() => registry.get('lora')).message).not.toContain('@peftjs/lora');
    registry.declarePackage({ packageName: '@peftjs/lora', methods: ['lora', 'dora'], hfPeftTypes: ['LORA'] });
    registry.declarePackage({ packageName: '@acme/vera', methods: ['acme/vera'] });
    const error = caught(() => registry.get('lora'));
    expect(error.code).toBe('unknown-method');
    expect(error.message).toContain('Unknown PEFT method "lora"');
    expect(error.message).toContain("import '@peftjs/lora/register'");
    expect(error.message).toContain('Registered: test/bias-only');
    expect(caught(() => registry.get('acme/vera')).message).toContain("import '@acme/vera/register'");
    expect(registry.providerOf('dora')).toBe('@peftjs/lora');
    expect(registry.providerOf('test/bias-only')).toBe(biasOnly.packageName);
    expect(registry.hfProviderOf('LORA')).toBe('@peftjs/lora');
    expect(registry.hfProviderOf('IA3')).toBeUndefined();
    expect(caught(() => registry.declarePackage({ packageName: '', methods: [] })).code).toBe('invalid-argument');
  });

  it('uses the package hint (from a manifest) for third-party names, and says what to do without one', () => {
    const registry = createRegistry();
    expect(caught(() => registry.get('acme/vera', '@acme/vera')).message).toContain("import '@acme/vera/register'");
    expect(caught(() => registry.get('acme/vera')).message).toMatch(/Register the method/);
  });
});

describe('defaultRegistry', () => {
  it('lives on globalThis under Symbol.for, so duplicate copies of core share it', () => {
    const holder = globalThis as unknown as Record<symbol, unknown>;
    expect(holder[Symbol.for('peftjs.defaultRegistry')]).toBe(defaultRegistry);
    const method = definePeftMethod({
      specificationVersion: 'v1',
      name: 'test/registry-probe',
      packageName: 'probe',
      kind: 'selective',
      configSchema: z.object({}),
      apply: () => ({ name: 'test/registry-probe', claims: [], parameters: () => [], state: () => ({}), load: () => undefined }),
    });
    registerMethod(method);
    expect(defaultRegistry.get('test/registry-probe')).toBe(method);
  });
});
