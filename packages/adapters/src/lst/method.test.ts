import { peft, tf, type TransformerStack } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { createConformanceGpt } from '../shared/test-support';
import { lst } from './method';
import type { LadderSideNetwork } from './side-network';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: lst, config: { reductionFactor: 0 }, field: 'reductionFactor' },
  { method: lst, config: { gateTemperature: 0 }, field: 'gateTemperature' },
  { method: lst, config: { sideHeads: 1.5 }, field: 'sideHeads' },
];

describeConformance({ name: 'lst on BERT', methods: () => [lst({ reductionFactor: 4 })], mergeable: false, invalidConfigs });
describeConformance({ name: 'lst on GPT-2 (causal side blocks)', createModel: createConformanceGpt, methods: () => [lst({ reductionFactor: 4 })], mergeable: false });
describeConformance({ name: 'lst with the head trained', methods: () => [lst({ reductionFactor: 2, modulesToSave: { roles: ['head'] } })], mergeable: false });

describeMethodChecks('lst', {
  methods: () => [lst({ reductionFactor: 2 })],
  // The last block's downsampler: its gradient goes through the ladder gate, the last side block and the upsampler.
  gradientParameter: (tuned) => tuned.trainableParameters().filter((parameter) => parameter.kind === 'weight' && parameter.shape[0] === 16 && parameter.shape[1] === 8).at(-1)!,
  // Gates back at μ = 0.5 (randomized logits over T = 0.1 would saturate the sigmoid).
  beforeGradientCheck: (tuned) => tuned.trainableParameters().filter((parameter) => parameter.kind === 'ladder_gate').forEach((parameter) => parameter.assign(tf.zeros(parameter.shape))),
  steps: 60,
  learningRate: 0.02,
});

describe('lst', () => {
  it('computes U(s_L) + b_L with the ladder recursion, checked against a hand-written forward', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [lst({ reductionFactor: 4 })]);
    const random = tf.randomNormal([4], 0, 1, 'float32', 3);
    const side = tuned.model.getModule<LadderSideNetwork>('encoder.ladderSide');
    side.child<any>('up').weight.assign(tf.randomNormal([4, 16], 0, 0.5, 'float32', 5));
    side.parameter('gateLogits').assign(tf.tensor1d([0.05, -0.2]));
    const states = [0, 1, 2].map((i) => tf.randomNormal([2, 3, 16], 0, 1, 'float32', 10 + i));
    const down = side.child<any>('down').items();
    const blocks = side.child<any>('blocks').items();
    const mu = [0.05, -0.2].map((a) => 1 / (1 + Math.exp(-a / 0.1)));
    let s: tf.Tensor = down[0].forward(states[0]);
    for (let i = 0; i < 2; i++) s = blocks[i].forward(tf.add(tf.mul(mu[i]!, down[i + 1].forward(states[i + 1])), tf.mul(1 - mu[i]!, s)), {});
    const expected = side.child<any>('up').forward(s);
    const actual = side.forward(states, {});
    expect(tf.max(tf.abs(expected)).dataSync()[0]).toBeGreaterThan(0.1);
    expect(tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]).toBeLessThan(1e-5);
    random.dispose();
    model.dispose();
  });

  it('sends no gradient into the backbone, and restores the layer runner on remove', () => {
    const model = createConformanceBert();
    const stack = model.getModule<TransformerStack>('encoder');
    const before = stack.layerRunner;
    const tuned = peft(model, [lst({ reductionFactor: 4 })]);
    expect(stack.layerRunner).not.toBe(before);
    const backbone = model.getModule<any>('encoder.layers.0.attention.query').weight;
    const up = model.getModule<any>('encoder.ladderSide.up').weight;
    const inputIds = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tuned.forward({ inputIds }).lastHiddenState, tf.linspace(-1, 1, 16))) as tf.Scalar, [backbone.variable, up.variable]);
    const backboneGradient = grads[backbone.variable.name];
    expect(backboneGradient === undefined ? 0 : tf.max(tf.abs(backboneGradient)).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(grads[up.variable.name]!)).dataSync()[0]).toBeGreaterThan(0.01);
    tf.dispose([value, inputIds, ...Object.values(grads)]);
    tuned.appliedMethods()[0]!.remove!();
    expect(stack.layerRunner).toBe(before);
    expect(stack.maybeChild('ladderSide')).toBeUndefined();
    model.dispose();
  });
});
