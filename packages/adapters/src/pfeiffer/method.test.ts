import { activation, linearForward, peft, tf, type Module, type PeftModel } from '@peftjs/core';
import { createConformanceBert, describeConformance, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { SublayerAdapter } from '../shared/sublayer-adapter';
import { createConformanceGpt, randomizeTrainable } from '../shared/test-support';
import { pfeiffer } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: pfeiffer, config: { reductionFactor: -2 }, field: 'reductionFactor' },
  { method: pfeiffer, config: { sublayers: ['ffn'] }, field: 'sublayers' },
  { method: pfeiffer, config: { layers: [-1] }, field: 'layers' },
];

describeConformance({ name: 'pfeiffer on BERT (post-LN: after the FFN LayerNorm)', methods: () => [pfeiffer({ bottleneckSize: 4 })], mergeable: false, invalidConfigs });
describeConformance({ name: 'pfeiffer on GPT-2 (pre-LN: on the block output)', createModel: createConformanceGpt, methods: () => [pfeiffer({ bottleneckSize: 4 })], mergeable: false });
describeConformance({ name: 'pfeiffer with the head trained', createModel: createConformanceGpt, methods: () => [pfeiffer({ modulesToSave: { roles: ['head'] } })], mergeable: false });

describeMethodChecks('pfeiffer', { methods: () => [pfeiffer({ bottleneckSize: 4 })], gradientMethods: () => [pfeiffer({ bottleneckSize: 4, nonLinearity: 'tanh' })] });

/** A(v) from a SublayerAdapter's first adapter, computed from its tensors outside the wrapper. */
function adapterMap(layer: SublayerAdapter): (v: tf.Tensor) => tf.Tensor {
  const p = layer.adapter('default').parameters;
  const relu = activation('relu');
  return (v) => linearForward(relu(linearForward(v, p.get('adapterDown').value, p.get('adapterDownBias').value)), p.get('adapterUp').value, p.get('adapterUpBias').value);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('pfeiffer placement (AdapterHub SeqBnConfig)', () => {
  it('post-LN: out = LN2(x + h + A(LN2(x + h))) with the block LayerNorm reused', () => {
    const model = createConformanceBert();
    const tuned: PeftModel<ConformanceModel> = peft(model, [pfeiffer({ bottleneckSize: 4 })]);
    randomizeTrainable(tuned, 0.5);
    const block = tuned.model.getModule<Module<any, any>>('encoder.layers.0');
    const ffn = block.child<SublayerAdapter>('ffn');
    expect(ffn).toBeInstanceOf(SublayerAdapter);
    const norm1 = block.child<Module<[tf.Tensor], tf.Tensor>>('attentionNorm');
    const norm2 = block.child<Module<[tf.Tensor], tf.Tensor>>('ffnNorm');
    const hidden = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 5);
    const expected = tf.tidy(() => {
      const x = norm1.forward(tf.add(hidden, block.child<Module<any, any>>('attention').forward(hidden, {})));
      const h = ffn.base.forward(x, {});
      const u = norm2.forward(tf.add(x, h));
      return norm2.forward(tf.add(tf.add(x, h), adapterMap(ffn)(u)));
    });
    const withoutAdapter = tf.tidy(() => {
      ffn.setAdapterEnabled('default', false);
      const out = block.forward(hidden, {});
      ffn.setAdapterEnabled('default', true);
      return out;
    });
    const actual = block.forward(hidden, {});
    expect(maxDiff(actual, withoutAdapter)).toBeGreaterThan(0.1);
    expect(maxDiff(actual, expected)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('pre-LN: out = u + A(u) with u the block output (h + x)', () => {
    const model = createConformanceGpt();
    const tuned: PeftModel<ConformanceModel> = peft(model, [pfeiffer({ bottleneckSize: 4 })]);
    randomizeTrainable(tuned, 0.5);
    const wrapper = tuned.model.getModule<SublayerAdapter>('decoder.layers.1');
    expect(wrapper).toBeInstanceOf(SublayerAdapter);
    const hidden = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 5);
    const u = wrapper.base.forward(hidden, {});
    const expected = tf.add(u, adapterMap(wrapper)(u));
    const actual = wrapper.forward(hidden, {});
    expect(maxDiff(actual, u)).toBeGreaterThan(0.1);
    expect(maxDiff(actual, expected)).toBeLessThan(1e-5);
    model.dispose();
  });
});
