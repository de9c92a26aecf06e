import { gate, peft, tf } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { SublayerAdapter } from '../shared/sublayer-adapter';
import { createConformanceGpt } from '../shared/test-support';
import { houlsby } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: houlsby, config: { reductionFactor: 0 }, field: 'reductionFactor' },
  { method: houlsby, config: { bottleneckSize: 1.5 }, field: 'bottleneckSize' },
  { method: houlsby, config: { nonLinearity: 'swish2' }, field: 'nonLinearity' },
  { method: houlsby, config: { sublayers: ['mlp'] }, field: 'sublayers' },
  { method: houlsby, config: { sublayers: [] }, field: 'sublayers' },
];

describeConformance({ name: 'houlsby on BERT', methods: () => [houlsby({ bottleneckSize: 4 })], mergeable: false, invalidConfigs });
describeConformance({ name: 'houlsby on GPT-2', createModel: createConformanceGpt, methods: () => [houlsby({ bottleneckSize: 4 })], mergeable: false });
describeConformance({ name: 'houlsby with the head trained (modulesToSave)', methods: () => [houlsby({ modulesToSave: { roles: ['head'] } })], mergeable: false });
describeConformance({ name: 'houlsby twice: a second named adapter inside the same wrappers', methods: () => [houlsby({ bottleneckSize: 2 }), houlsby({ bottleneckSize: 3, sublayers: ['ffn'] })], mergeable: false });

describeConformance({ name: 'houlsby gated (UniPELT-style gate on the sequential adapter)', createModel: createConformanceGpt, methods: () => [houlsby({ bottleneckSize: 4 }), gate({ methods: ['houlsby'] })], mergeable: false });

describeMethodChecks('houlsby', { methods: () => [houlsby({ bottleneckSize: 4 })] });

describe('houlsby', () => {
  it('wraps the attention and FFN sublayers of the chosen layers with a width from the reduction factor', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [houlsby({ reductionFactor: 4, layers: [1] })]);
    expect(tuned.model.getModule('encoder.layers.1.attention')).toBeInstanceOf(SublayerAdapter);
    expect(tuned.model.getModule('encoder.layers.1.ffn')).toBeInstanceOf(SublayerAdapter);
    expect(tuned.model.getModule('encoder.layers.0.ffn')).not.toBeInstanceOf(SublayerAdapter);
    // 2 sites × (16·4 + 4 + 4·16 + 16) = 2 × 148
    expect(tuned.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(296);
    expect(() => peft(createConformanceBert(), [houlsby({ layers: [5] })])).toThrowError(expect.objectContaining({ field: 'layers' }));
    // The selector shape the bench's hybrids use.
    const other = createConformanceBert();
    const viaTargets = peft(other, [houlsby({ reductionFactor: 4, targets: { layers: [1] } })]);
    expect(viaTargets.model.getModule('encoder.layers.0.ffn')).not.toBeInstanceOf(SublayerAdapter);
    expect(viaTargets.model.getModule('encoder.layers.1.ffn')).toBeInstanceOf(SublayerAdapter);
    other.dispose();
    model.dispose();
  });

  it('gates the contribution by a function of the sublayer output it adapts', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [houlsby({ bottleneckSize: 4, layers: [0], sublayers: ['ffn'] }), gate({ methods: ['houlsby'] })]);
    const wrapper = tuned.model.getModule<SublayerAdapter>('encoder.layers.0.ffn');
    const adapter = wrapper.adapter('default');
    expect(adapter.gate).toBeDefined();
    adapter.parameters.get('adapterUp').assign(tf.randomNormal([4, 16], 0, 2, 'float32', 1));
    adapter.parameters.get('adapterDown').assign(tf.randomNormal([16, 4], 0, 20, 'float32', 3));
    adapter.parameters.get('adapterDownBias').assign(tf.fill([4], 0.5));
    const x = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 2);
    const h = wrapper.base.forward(x, {});
    const gated = tf.sub(wrapper.forward(x, {}), h);
    const gateValue = adapter.gate!;
    adapter.gate = undefined;
    const ungated = tf.sub(wrapper.forward(x, {}), h);
    adapter.gate = gateValue;
    // The gate's scale is computed from h (the sublayer output), not from x.
    const expected = tf.mul(ungated, gateValue.scaleFor(h, 3));
    expect(tf.max(tf.abs(ungated)).dataSync()[0]).toBeGreaterThan(0.1);
    expect(tf.max(tf.abs(tf.sub(gated, expected))).dataSync()[0]).toBeLessThan(1e-5);
    model.dispose();
  });
});
