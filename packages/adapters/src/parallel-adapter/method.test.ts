import { peft, tf, type Module } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import type { SublayerAdapter } from '../shared/sublayer-adapter';
import { createConformanceGpt, randomizeTrainable } from '../shared/test-support';
import { parallelAdapter } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: parallelAdapter, config: { scaling: 0 }, field: 'scaling' },
  { method: parallelAdapter, config: { sublayers: 'ffn' }, field: 'sublayers' },
  { method: parallelAdapter, config: { bottleneckSize: 0 }, field: 'bottleneckSize' },
];

describeConformance({ name: 'parallel-adapter on BERT', methods: () => [parallelAdapter({ bottleneckSize: 4 })], mergeable: false, invalidConfigs });
describeConformance({ name: 'parallel-adapter on GPT-2, beside attention and FFN', createModel: createConformanceGpt, methods: () => [parallelAdapter({ bottleneckSize: 4, sublayers: ['attention', 'ffn'] })], mergeable: false });
describeConformance({ name: 'parallel-adapter with the head trained', methods: () => [parallelAdapter({ modulesToSave: { roles: ['head'] } })], mergeable: false });

describeMethodChecks('parallel-adapter', { methods: () => [parallelAdapter({ bottleneckSize: 4 })], gradientMethods: () => [parallelAdapter({ bottleneckSize: 4, nonLinearity: 'tanh' })] });

describe('parallel-adapter', () => {
  it('adds s·A(x) beside the FFN, reading the FFN input (s = 2.5 doubles-and-a-half the unit-scale contribution)', () => {
    const contributionAt = (scaling: number) => {
      const model = createConformanceBert();
      const tuned = peft(model, [parallelAdapter({ bottleneckSize: 4, scaling })]);
      randomizeTrainable(tuned, 0.5);
      const wrapper = tuned.model.getModule<SublayerAdapter>('encoder.layers.0.ffn');
      const x = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 9);
      const delta = tf.sub(wrapper.forward(x, {}), (wrapper.base as Module<any, any>).forward(x, {}));
      const values = delta.dataSync().slice();
      model.dispose();
      return values;
    };
    const unit = contributionAt(1);
    const scaled = contributionAt(2.5);
    expect(Math.max(...unit.map(Math.abs))).toBeGreaterThan(0.1);
    unit.forEach((value, i) => expect(scaled[i]!).toBeCloseTo(2.5 * value, 4));
  });
});
