import { peft, tf } from '@peftjs/core';
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
    model.dispose();
  });
});
