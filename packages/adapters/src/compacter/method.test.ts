import { peft, tf } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { SublayerAdapter } from '../shared/sublayer-adapter';
import { createConformanceGpt } from '../shared/test-support';
import { houlsby } from '../houlsby/method';
import { CompacterAdapter } from './layer';
import { compacter } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: compacter, config: { variant: 'compacter+' }, field: 'variant' },
  { method: compacter, config: { phmDimension: 0 }, field: 'phmDimension' },
  { method: compacter, config: { phmRank: 1.5 }, field: 'phmRank' },
];

describeConformance({ name: 'compacter on BERT', methods: () => [compacter({ bottleneckSize: 4, phmDimension: 2 })], mergeable: false, invalidConfigs });
describeConformance({ name: 'compacter on GPT-2', createModel: createConformanceGpt, methods: () => [compacter({ bottleneckSize: 4, phmDimension: 2 })], mergeable: false });
describeConformance({ name: 'compacter++ on BERT', methods: () => [compacter({ variant: 'compacter++', bottleneckSize: 4, phmDimension: 2 })], mergeable: false });
describeConformance({ name: 'phm adapter on GPT-2', createModel: createConformanceGpt, methods: () => [compacter({ variant: 'phm', bottleneckSize: 4, phmDimension: 2 })], mergeable: false });
describeConformance({ name: 'compacter with the head trained, beside houlsby on the same sublayers', methods: () => [houlsby({ bottleneckSize: 2 }), compacter({ bottleneckSize: 4, phmDimension: 2, modulesToSave: { roles: ['head'] } })], mergeable: false });

describeMethodChecks('compacter', {
  methods: () => [compacter({ bottleneckSize: 4, phmDimension: 2 })],
  // The shared rule: its gradient sums over every layer's adapter.
  gradientParameter: (tuned) => (tuned.model.namedModules().find(([, module]) => module instanceof CompacterAdapter)![1] as CompacterAdapter).adapter('default').parameters.get('phmRuleDown'),
});
describeMethodChecks('phm adapter', { methods: () => [compacter({ variant: 'phm', bottleneckSize: 4, phmDimension: 2 })] });

describe('compacter', () => {
  it('shares A_i across layers, B_i rank 1: counts match the paper’s formula', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [compacter({ bottleneckSize: 4, phmDimension: 2 })]);
    // Shared rules 2 × n³ = 16; per site: down n·(d/n·r + r·m/n) = 2·(8 + 2) = 20, up the same, biases 4 + 16. 4 sites.
    expect(tuned.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(16 + 4 * (20 + 20 + 4 + 16));
    const first = tuned.model.getModule<CompacterAdapter>('encoder.layers.0.attention');
    const last = tuned.model.getModule<CompacterAdapter>('encoder.layers.1.ffn');
    expect(first.adapter('default').options.sharedRules).toBe(last.adapter('default').options.sharedRules);
    expect(tuned.model.getModule('encoder.layers.0.ffn')).not.toBeInstanceOf(SublayerAdapter);
    model.dispose();
  });

  it('keeps houlsby and compacter adapters in wrappers of their own classes', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [compacter({ bottleneckSize: 4, phmDimension: 2 }), houlsby({ bottleneckSize: 2 })]);
    const outer = tuned.model.getModule<SublayerAdapter>('encoder.layers.0.ffn');
    expect(outer).toBeInstanceOf(SublayerAdapter);
    expect(outer.base).toBeInstanceOf(CompacterAdapter);
    model.dispose();
  });

  it('compacter++ adapts only the FFN; phm has per-layer rules and full B_i', () => {
    const model = createConformanceBert();
    const plus = peft(model, [compacter({ variant: 'compacter++', bottleneckSize: 4, phmDimension: 2 })]);
    expect(plus.model.getModule('encoder.layers.0.attention')).not.toBeInstanceOf(CompacterAdapter);
    expect(plus.model.getModule('encoder.layers.0.ffn')).toBeInstanceOf(CompacterAdapter);
    model.dispose();
    const other = createConformanceBert();
    const phm = peft(other, [compacter({ variant: 'phm', bottleneckSize: 4, phmDimension: 2 })]);
    const names = phm.model.getModule<CompacterAdapter>('encoder.layers.1.ffn').adapter('default').parameters.ownNamedParameters().map(([name]) => name).sort();
    expect(names).toEqual(['downBias', 'downFactor', 'phmRuleDown', 'phmRuleUp', 'upBias', 'upFactor']);
    other.dispose();
  });

  it('rounds a width from the reduction factor up to a multiple of n (hidden 16 / 16 = 1 → 4)', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [compacter()]);
    expect(tuned.model.getModule<CompacterAdapter>('encoder.layers.0.ffn').adapter('default').options.width).toBe(4);
    model.dispose();
  });

  it('rejects a phmDimension that does not divide the sizes, leaving the model as it was', () => {
    const model = createConformanceBert();
    const before = model.parameters().length;
    expect(() => peft(model, [compacter({ bottleneckSize: 4, phmDimension: 3 })])).toThrowError(expect.objectContaining({ field: 'phmDimension' }));
    expect(model.parameters().length).toBe(before);
    model.dispose();
  });
});
