import { createRegistry, definePeftMethod, targetSelectorSchema, z } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { benchDefaultConfig, DEFAULT_LEARNING_RATES, learningRateOf, resolveMethodRuns, runKind } from './method-spec';
import { testBiasMethod } from './test-support';

const withHeadOption = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test-head-option',
  packageName: '@peftjs/bench-test',
  kind: 'reparametrization',
  configSchema: z.strictObject({ modulesToSave: targetSelectorSchema.optional() }),
  apply: () => {
    throw new Error('not applied in these tests');
  },
});

describe('method runs', () => {
  it('trains the task head beside a method that has modulesToSave, and leaves other methods at their defaults', () => {
    expect(benchDefaultConfig(withHeadOption)).toEqual({ modulesToSave: { roles: ['head'] } });
    expect(benchDefaultConfig(testBiasMethod)).toBeUndefined();
    const [run] = resolveMethodRuns(['test-head-option'], createRegistry([withHeadOption]));
    expect(run!.configs[0]!.config).toEqual({ modulesToSave: { roles: ['head'] } });
  });

  it('picks the learning rate by kind, full first, compositions as hybrids, overrides over defaults', () => {
    const registry = createRegistry([withHeadOption, testBiasMethod]);
    const [full, reparametrization, selective] = resolveMethodRuns(['full', 'test-head-option', 'test-bias'], registry);
    const hybrid = { name: 'both', configs: [...reparametrization!.configs, ...selective!.configs] };
    expect([full, reparametrization, selective, hybrid].map((run) => runKind(run!))).toEqual(['full', 'reparametrization', 'selective', 'hybrid']);
    expect(learningRateOf(full!)).toBe(DEFAULT_LEARNING_RATES.full);
    expect(learningRateOf(full!, { full: 1e-2 })).toBe(1e-2);
    expect(learningRateOf(hybrid, { selective: 1 })).toBe(DEFAULT_LEARNING_RATES.hybrid);
    expect(learningRateOf({ ...selective!, learningRate: 5e-4 }, { selective: 1 })).toBe(5e-4);
  });
});
