import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { definePeftMethod, isPeftMethod } from './define-method';
import { targetSelectorSchema } from './selector';
import type { AppliedMethod } from './types';

const apply = (): AppliedMethod => ({ name: 'lora', claims: [], parameters: () => [], state: () => ({}), load: () => undefined });

const lora = definePeftMethod({
  specificationVersion: 'v1',
  name: 'lora',
  packageName: '@peftjs/lora',
  kind: 'reparametrization',
  configSchema: z.strictObject({
    r: z.number().int().min(1).max(64).default(8),
    alpha: z.number().positive().default(16),
    bias: z.enum(['none', 'all', 'lora_only']).default('none'),
    targets: targetSelectorSchema.default({ roles: ['attention.query', 'attention.value'] }),
  }),
  apply,
});

function caught(fn: () => unknown): PeftError {
  try {
    fn();
  } catch (error) {
    if (PeftError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a PeftError');
}

describe('definePeftMethod', () => {
  it('returns a callable that makes a frozen config with defaults filled in', () => {
    const configured = lora({ r: 4 });
    expect(configured.method).toBe(lora);
    expect(configured.config).toEqual({ r: 4, alpha: 16, bias: 'none', targets: { roles: ['attention.query', 'attention.value'] } });
    expect(Object.isFrozen(configured)).toBe(true);
    expect(Object.isFrozen(configured.config)).toBe(true);
    expect(Object.isFrozen(configured.config.targets.roles)).toBe(true);
    expect(() => {
      (configured.config.targets.roles as string[]).push('ffn.up');
    }).toThrow(TypeError);
    expect(lora().config.r).toBe(8);
  });

  it('carries the definition: name, kind, package, parseConfig', () => {
    expect(lora.name).toBe('lora');
    expect(lora.kind).toBe('reparametrization');
    expect(lora.packageName).toBe('@peftjs/lora');
    expect(lora.parseConfig({ r: 2 }).r).toBe(2);
    expect(isPeftMethod(lora)).toBe(true);
    expect(isPeftMethod({ name: 'lora' })).toBe(false);
  });

  it('keeps RegExp values in configs usable (not frozen into a broken state)', () => {
    const configured = lora({ targets: { paths: [/query$/g] } });
    const pattern = configured.config.targets.paths![0] as RegExp;
    expect(pattern.test('a.query')).toBe(true);
    expect(pattern.test('a.query')).toBe(false); // g flag state still works: not frozen
  });

  it('names the field path, the value and the bounds for out-of-range numbers', () => {
    const error = caught(() => lora({ r: 0 }));
    expect(error.code).toBe('invalid-config');
    expect(error.field).toBe('lora.r');
    expect(error.value).toBe(0);
    expect(error.allowed).toBe('a number >= 1');
    expect(error.message).toContain('lora.r');
    expect(error.message).toContain('got 0');
    expect(caught(() => lora({ r: 100 })).allowed).toBe('a number <= 64');
    expect(caught(() => lora({ alpha: 0 })).allowed).toBe('a number > 0');
  });

  it('names the expected type, integer-ness and enum options', () => {
    const wrongType = caught(() => lora({ r: 'eight' as unknown as number }));
    expect(wrongType.field).toBe('lora.r');
    expect(wrongType.value).toBe('eight');
    expect(wrongType.allowed).toBe('a value of type number');
    expect(caught(() => lora({ r: 2.5 })).allowed).toBe('an integer');
    const badEnum = caught(() => lora({ bias: 'some' as 'all' }));
    expect(badEnum.field).toBe('lora.bias');
    expect(badEnum.allowed).toEqual(['"none"', '"all"', '"lora_only"']);
    expect(badEnum.message).toContain('"none", "all", "lora_only"');
  });

  it('names nested selector fields and unknown keys with the known ones', () => {
    const nested = caught(() => lora({ targets: { roles: [3 as unknown as string] } }));
    expect(nested.field).toBe('lora.targets.roles.0');
    expect(nested.value).toBe(3);
    const unknown = caught(() => lora({ rank: 8 } as unknown as { r: number }));
    expect(unknown.field).toBe('lora.rank');
    expect(unknown.value).toBe(8);
    expect(unknown.allowed).toEqual(['r', 'alpha', 'bias', 'targets']);
    const selectorTypo = caught(() => lora({ targets: { role: ['x'] } as unknown as { roles: string[] } }));
    expect(selectorTypo.field).toBe('lora.targets.role');
    expect(selectorTypo.allowed).toContain('roles');
  });

  it('describes a union mismatch by its alternatives, or by the branch that got furthest', () => {
    const flat = caught(() => lora({ targets: { paths: [5 as unknown as string] } }));
    expect(flat.field).toBe('lora.targets.paths.0');
    expect(String(flat.allowed)).toMatch(/string.*RegExp.*object/);
    const deep = caught(() => lora({ targets: { paths: [{ regex: 1 as unknown as string }] } }));
    expect(deep.field).toBe('lora.targets.paths.0.regex');
    expect(deep.allowed).toBe('a value of type string');
  });

  it('validates the definition: spec version, name pattern, kind', () => {
    const base = { specificationVersion: 'v1' as const, name: 'ok', packageName: 'p', kind: 'additive' as const, configSchema: z.object({}), apply };
    expect(caught(() => definePeftMethod({ ...base, specificationVersion: 'v2' as 'v1' })).field).toBe('specificationVersion');
    for (const name of ['Lora', 'lo ra', '', '/x', 'a/b/c', 'acme/']) {
      expect(caught(() => definePeftMethod({ ...base, name })).field).toBe('name');
    }
    for (const name of ['lora', 'ln-tuning', 'acme/vera', 'compacter.v2', 'ia3']) {
      expect(definePeftMethod({ ...base, name }).name).toBe(name);
    }
    const kind = caught(() => definePeftMethod({ ...base, kind: 'magic' as 'additive' }));
    expect(kind.field).toBe('kind');
    expect(kind.allowed).toEqual(['additive', 'selective', 'reparametrization', 'hybrid']);
  });
});
