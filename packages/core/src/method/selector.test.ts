import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { compilePathPattern } from './path-pattern';
import { dryRun, resolveTargets, type TargetSelector } from './selector';
import { ScaledLinear, TinyModel } from './test-fixtures';

let model: TinyModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  model = new TinyModel();
});

afterAll(() => model.dispose());

const modules = (selector: TargetSelector, outermost?: boolean): string[] =>
  resolveTargets(model, selector, { kind: 'module', ...(outermost === undefined ? {} : { outermost }) }).map((t) => t.path);
const parameters = (selector: TargetSelector): string[] => resolveTargets(model, selector, { kind: 'parameter' }).map((t) => t.path);

describe('path patterns', () => {
  it('globs: * within a segment, ** across any number of segments, whole-path match', () => {
    const glob = (pattern: string, path: string): boolean => compilePathPattern(pattern)(path);
    expect(glob('encoder.layers.*.attention.query', 'encoder.layers.1.attention.query')).toBe(true);
    expect(glob('encoder.layers.*.attention.query', 'encoder.layers.1.attention.query.base')).toBe(false);
    expect(glob('**.query', 'encoder.layers.1.attention.query')).toBe(true);
    expect(glob('**.query', 'query')).toBe(true);
    expect(glob('encoder.**.down', 'encoder.layers.0.ffn.down')).toBe(true);
    expect(glob('encoder.**', 'encoder')).toBe(true);
    expect(glob('query', 'encoder.layers.1.attention.query')).toBe(false);
    expect(glob('attention.q*', 'attention.query')).toBe(true);
    expect(glob('attention.q*', 'attention.value')).toBe(false);
    // Dots and regex characters in globs are literal.
    expect(glob('a.b', 'aXb')).toBe(false);
    expect(glob('a+b', 'a+b')).toBe(true);
  });

  it('RegExp and { regex, flags } search the path; g/y flags do not make matching stateful', () => {
    const re = compilePathPattern(/QUERY$/gi);
    expect(re('x.query')).toBe(true);
    expect(re('x.query')).toBe(true);
    expect(compilePathPattern({ regex: 'layers\\.1\\.', flags: 'i' })('encoder.LAYERS.1.ffn')).toBe(true);
    expect(compilePathPattern({ regex: '^ffn' })('encoder.ffn')).toBe(false);
  });
});

describe('resolveTargets', () => {
  it('selects modules by role and by role group', () => {
    expect(modules({ roles: ['attention.query'] })).toEqual(['encoder.layers.0.attention.query', 'encoder.layers.1.attention.query']);
    const allLinear = modules({ roles: ['all-linear'] });
    expect(allLinear).toHaveLength(10);
    expect(allLinear).not.toContain('head');
    expect(modules({ roles: ['norm.*'] })).toEqual(['encoder.layers.0.attentionNorm', 'encoder.layers.1.attentionNorm']);
  });

  it('selects by path glob, RegExp and { regex }', () => {
    expect(modules({ paths: ['encoder.layers.*.ffn.up'] })).toEqual(['encoder.layers.0.ffn.up', 'encoder.layers.1.ffn.up']);
    expect(modules({ paths: [/\.1\.attention\.(query|value)$/] })).toEqual(['encoder.layers.1.attention.query', 'encoder.layers.1.attention.value']);
    expect(modules({ paths: [{ regex: '^head$' }] })).toEqual(['head']);
  });

  it('selects by layer index through the layers.<i> segment', () => {
    expect(modules({ roles: ['ffn.down'], layers: [1] })).toEqual(['encoder.layers.1.ffn.down']);
    expect(modules({ layers: [0], roles: ['all-linear'] })).toHaveLength(5);
    expect(parameters({ layers: [1], tensorKinds: ['gamma'] })).toEqual(['encoder.layers.1.attentionNorm.gamma']);
  });

  it('excludes matches and everything below them', () => {
    expect(modules({ roles: ['attention.query'], exclude: ['encoder.layers.0.**'] })).toEqual(['encoder.layers.1.attention.query']);
    // Excluding a module excludes its parameters.
    const biases = parameters({ tensorKinds: ['bias'], exclude: ['encoder.layers.*.ffn', /head/] });
    expect(biases).toEqual(['encoder.layers.0.attention.query.bias', 'encoder.layers.0.attention.value.bias', 'encoder.layers.0.attention.output.bias', 'encoder.layers.1.attention.query.bias', 'encoder.layers.1.attention.value.bias', 'encoder.layers.1.attention.output.bias']);
  });

  it('selects parameters by tensor kind, by an ancestor role, and by the owner module path', () => {
    expect(parameters({ tensorKinds: ['bias'] })).toHaveLength(2 * 5 + 1);
    expect(parameters({ tensorKinds: ['gamma', 'beta'] })).toHaveLength(4);
    // `ffn` is the sublayer's role: its descendants' parameters match through it.
    expect(parameters({ roles: ['ffn'], layers: [0] })).toEqual(['encoder.layers.0.ffn.up.weight', 'encoder.layers.0.ffn.up.bias', 'encoder.layers.0.ffn.down.weight', 'encoder.layers.0.ffn.down.bias']);
    expect(parameters({ paths: ['head'] })).toEqual(['head.weight', 'head.bias']);
    expect(parameters({ paths: ['head.bias'] })).toEqual(['head.bias']);
  });

  it('selects by module class name, including subclasses', () => {
    expect(modules({ moduleTypes: ['LayerNorm'] })).toEqual(['encoder.layers.0.attentionNorm', 'encoder.layers.1.attentionNorm']);
    expect(modules({ moduleTypes: ['TinyAttention'] })).toEqual(['encoder.layers.0.attention', 'encoder.layers.1.attention']);
    expect(modules({ moduleTypes: ['Linear'], layers: [0] })).toHaveLength(5);
  });

  it('targets a wrapper once, not also the module it holds, unless outermost is off', () => {
    const local = new TinyModel(3, 1);
    const wrapper = local.replaceModule('encoder.layers.0.attention.value', (current) => new ScaledLinear(current as never, 1));
    const found = resolveTargets(local, { roles: ['attention.value'] }, { kind: 'module' });
    expect(found.map((t) => t.path)).toEqual(['encoder.layers.0.attention.value']);
    expect(found[0]!.module).toBe(wrapper);
    expect(resolveTargets(local, { roles: ['attention.value'] }, { kind: 'module', outermost: false }).map((t) => t.path)).toEqual([
      'encoder.layers.0.attention.value',
      'encoder.layers.0.attention.value.base',
    ]);
    local.dispose();
  });

  it('an empty selector matches every module but the root (the outermost ones by default)', () => {
    expect(modules({})).toEqual(['encoder', 'head']);
    expect(modules({}, false)).toHaveLength(model.namedModules().length - 1);
  });

  it('a selector that matches nothing lists the roles, types, layers and paths that exist', () => {
    let error: unknown;
    try {
      resolveTargets(model, { roles: ['attention.qkv'] }, { kind: 'module', field: 'lora.targets' });
    } catch (e) {
      error = e;
    }
    expect(PeftError.hasCode(error, 'selector-no-match')).toBe(true);
    const e = error as PeftError;
    expect(e.field).toBe('lora.targets.roles');
    expect(e.message).toContain('lora.targets selector {"roles":["attention.qkv"]} matched no modules');
    expect(e.message).toContain('roles present: attention, attention.output, attention.query, attention.value, block, ffn, ffn.down, ffn.up, head, norm.attention');
    expect(e.message).toContain('module types: LayerNorm, Linear, TinyAttention, TinyBlock, TinyEncoder, TinyFfn, TinyStack');
    expect(e.message).toContain('layers: 0, 1');
    expect(e.message).toMatch(/module paths \(12 of \d+\): encoder, encoder\.layers, encoder\.layers\.0/);
    expect(e.allowed).toContain('attention.query');
    expect(() => resolveTargets(model, { tensorKinds: ['scale'] }, { kind: 'parameter' })).toThrow(/tensor kinds: beta, bias, gamma, weight/);
    expect(resolveTargets(model, { roles: ['attention.qkv'] }, { kind: 'module', allowEmpty: true })).toEqual([]);
  });

  it('rejects malformed selectors as invalid-config naming the field', () => {
    expect(() => resolveTargets(model, { layers: [-1] }, { kind: 'module' })).toThrow(/targets\.layers\.0.*got -1/);
    expect(() => resolveTargets(model, { role: 'x' } as unknown as TargetSelector, { kind: 'module' })).toThrow(/targets\.role/);
  });
});

describe('dryRun', () => {
  it('lists module matches with role, class and parameter count', () => {
    expect(dryRun(model, { roles: ['ffn.up', 'ffn'], layers: [0] })).toEqual([{ path: 'encoder.layers.0.ffn', role: 'ffn', className: 'TinyFfn', parameterCount: 40 + 36 }]);
    expect(dryRun(model, { roles: ['ffn.up'], layers: [1] })).toEqual([{ path: 'encoder.layers.1.ffn.up', role: 'ffn.up', className: 'Linear', parameterCount: 4 * 8 + 8 }]);
  });

  it('lists parameter matches, and returns [] rather than throwing on no match', () => {
    expect(dryRun(model, { paths: ['head'] }, { kind: 'parameter' })).toEqual([
      { path: 'head.weight', role: 'head', className: 'Linear', parameterCount: 8, tensorKind: 'weight' },
      { path: 'head.bias', role: 'head', className: 'Linear', parameterCount: 2, tensorKind: 'bias' },
    ]);
    expect(dryRun(model, { roles: ['pooler'] })).toEqual([]);
  });
});

describe('resolveWrappableTargets', () => {
  it('keeps only the matches the method can wrap, and names what it needs when none is left', async () => {
    const { resolveWrappableTargets } = await import('./selector');
    const { Linear } = await import('../nn/linear');
    const local = new TinyModel(2, 1);
    const linears = resolveWrappableTargets(local, { roles: ['head', 'norm.attention'] }, { accept: (m) => m instanceof Linear, method: 'm', needs: 'Linear module' });
    expect(linears.map((t) => t.path)).toEqual(['head']);
    expect(() =>
      resolveWrappableTargets(local, { roles: ['norm.attention'] }, { accept: (m) => m instanceof Linear, method: 'm', needs: 'Linear module', suggest: 'head' }),
    ).toThrowError('m: the targets matched no Linear module (use roles such as head).');
    local.dispose();
  });
});
