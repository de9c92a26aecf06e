import { peft, tf } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { SublayerAdapter } from '../shared/sublayer-adapter';
import { createConformanceGpt } from '../shared/test-support';
import { scaledParallelAdapter } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'scaled-parallel-adapter on BERT',
  methods: () => [scaledParallelAdapter({ bottleneckSize: 4 })],
  mergeable: false,
  invalidConfigs: [{ method: scaledParallelAdapter, config: { scaling: -4 }, field: 'scaling' }],
});
describeConformance({ name: 'scaled-parallel-adapter on GPT-2', createModel: createConformanceGpt, methods: () => [scaledParallelAdapter({ bottleneckSize: 4 })], mergeable: false });

describeMethodChecks('scaled-parallel-adapter', { methods: () => [scaledParallelAdapter({ bottleneckSize: 4 })], gradientMethods: () => [scaledParallelAdapter({ bottleneckSize: 4, nonLinearity: 'tanh' })] });

describe('scaled-parallel-adapter', () => {
  it('defaults to s = 4 beside the FFN only', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [scaledParallelAdapter()]);
    const wrapper = tuned.model.getModule<SublayerAdapter>('encoder.layers.0.ffn');
    expect(wrapper.adapter('default').options).toMatchObject({ placement: 'parallel', scaling: 4, width: 1 });
    expect(tuned.model.getModule('encoder.layers.0.attention')).not.toBeInstanceOf(SublayerAdapter);
    model.dispose();
  });
});
