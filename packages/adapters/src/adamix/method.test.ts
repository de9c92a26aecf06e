import { Module, SeedStream, activation, linearForward, peft, tf, type LayerContext } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { createConformanceGpt, randomizeTrainable } from '../shared/test-support';
import { AdamixAdapter } from './layer';
import { adamix } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: adamix, config: { experts: 0 }, field: 'experts' },
  { method: adamix, config: { consistencyWeight: -1 }, field: 'consistencyWeight' },
  { method: adamix, config: { sublayers: ['head'] }, field: 'sublayers' },
];

describeConformance({ name: 'adamix on BERT', methods: () => [adamix({ bottleneckSize: 4 })], mergeable: false, invalidConfigs });
describeConformance({ name: 'adamix on GPT-2', createModel: createConformanceGpt, methods: () => [adamix({ bottleneckSize: 4, experts: 2 })], mergeable: false });
describeConformance({ name: 'adamix with the head trained, no consistency', methods: () => [adamix({ bottleneckSize: 4, consistencyWeight: 0, modulesToSave: { roles: ['head'] } })], mergeable: false });

describeMethodChecks('adamix', { methods: () => [adamix({ bottleneckSize: 4 })], gradientMethods: () => [adamix({ bottleneckSize: 4, nonLinearity: 'tanh' })], steps: 60 });

/** f(x) = x, so the wrapper's output minus x is the adapter's contribution. */
class Identity extends Module<[tf.Tensor, LayerContext], tf.Tensor> {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.clone(x);
  }
}

function tinyLayer(consistency: boolean): AdamixAdapter {
  const layer = new AdamixAdapter(new Identity(), 2);
  const adapter = layer.addAdapter('default', 'adamix', { placement: 'sequential', width: 1, activation: 'relu', scaling: 1, experts: 2, routingSeed: 9, consistency });
  // Expert 0: down [1, 1], up [[1, 0]]; expert 1: down [2, −1], up [[0, 3]]; biases zero.
  adapter.parameters.get('expertsDown').assign(tf.tensor3d([[[1], [1]], [[2], [-1]]]));
  adapter.parameters.get('expertsUp').assign(tf.tensor3d([[[1, 0]], [[0, 3]]]));
  return layer;
}

describe('adamix by hand (x = [1, 2])', () => {
  const x = tf.tensor3d([[[1, 2]]]);
  const expert = (down: number, up: number) => {
    const z = Math.max(0, [1 * 1 + 1 * 2, 2 * 1 - 1 * 2][down]!);
    return up === 0 ? [z, 0] : [0, 3 * z];
  };

  it('averages the experts at inference: mean down [1.5, 0], mean up [[0.5, 1.5]] → relu(1.5)·[0.5, 1.5]', () => {
    const layer = tinyLayer(false);
    layer.train(false);
    expect(Array.from(tf.sub(layer.forward(x, {}), x).dataSync())).toEqual([0.75, 2.25]);
  });

  it('routes one random down and up expert per training forward, from its seeded stream', () => {
    const layer = tinyLayer(false);
    layer.train(true);
    const stream = new SeedStream(9);
    for (let i = 0; i < 4; i++) {
      const route = { down: stream.nextInt(2), up: stream.nextInt(2) };
      expect(Array.from(tf.sub(layer.forward(x, {}), x).dataSync())).toEqual(expert(route.down, route.up));
    }
  });

  it('keeps the mean squared difference of two routes as the consistency term', () => {
    const layer = tinyLayer(true);
    layer.train(true);
    const stream = new SeedStream(9);
    const first = { down: stream.nextInt(2), up: stream.nextInt(2) };
    const second = { down: stream.nextInt(2), up: stream.nextInt(2) };
    layer.forward(x, {});
    const [a, b] = [expert(first.down, first.up), expert(second.down, second.up)];
    expect(layer.consistencyTerm('default')!.dataSync()[0]).toBeCloseTo(((a[0]! - b[0]!) ** 2 + (a[1]! - b[1]!) ** 2) / 2, 5);
    layer.clearConsistency('default');
    expect(layer.consistencyTerm('default')).toBeUndefined();
  });
});

describe('adamix', () => {
  it('adds the consistency regularizer in training and frees it after the step', () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model);
    const tuned = peft(model, [adamix({ bottleneckSize: 4, consistencyWeight: 2 })]);
    randomizeTrainable(tuned, 0.5);
    tuned.model.train();
    const method = tuned.appliedMethods()[0]!;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tuned.forward(batch);
    });
    const regularizer = method.regularization!();
    expect(regularizer.dataSync()[0]).toBeGreaterThan(1e-3);
    regularizer.dispose();
    method.afterStep!({ step: 1, totalSteps: 1, gradients: new Map() });
    expect(tf.memory().numTensors).toBe(before);
    disposeBatch(batch);
    model.dispose();
  });

  it('merges experts at inference: eval output equals one adapter with averaged weights', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [adamix({ bottleneckSize: 4 })]);
    randomizeTrainable(tuned, 0.5);
    const wrapper = tuned.model.getModule<AdamixAdapter>('encoder.layers.0.ffn');
    wrapper.train(false);
    const p = wrapper.adapter('default').parameters;
    const h = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 4);
    const base = (wrapper.base as Module<any, any>).forward(h, {});
    const mean = (name: string) => tf.mean(p.get(name).value, 0);
    const expected = tf.add(base, linearForward(activation('relu')(linearForward(base, mean('expertsDown'), mean('expertsDownBias'))), mean('expertsUp'), mean('expertsUpBias')));
    expect(tf.max(tf.abs(tf.sub(wrapper.forward(h, {}), expected))).dataSync()[0]).toBeLessThan(1e-5);
    model.dispose();
  });
});
