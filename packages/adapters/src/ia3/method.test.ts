import { peft, tf } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { createConformanceGpt } from '../shared/test-support';
import { Ia3Linear } from './layer';
import { ia3 } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: ia3, config: { targets: { roles: 'ffn.down' } }, field: 'targets.roles' },
  { method: ia3, config: { initIa3Weights: 'yes' }, field: 'initIa3Weights' },
  { method: ia3, config: { hfTargetModules: [] }, field: 'hfTargetModules' },
  { method: ia3, config: { scale: 2 }, field: 'scale' },
];

describeConformance({ name: 'ia3 on BERT (key, value, FFN intermediate)', methods: () => [ia3()], invalidConfigs });
describeConformance({ name: 'ia3 on GPT-2 (fused qkv, FFN intermediate)', createModel: createConformanceGpt, methods: () => [ia3()] });
describeConformance({ name: 'ia3 with the head trained', methods: () => [ia3({ modulesToSave: { roles: ['head'] } })] });
describeConformance({ name: 'ia3 twice on the same linears (named adapters multiply)', methods: () => [ia3(), ia3({ targets: { roles: ['ffn.down', 'attention.value'] } })] });
describeConformance({ name: 'ia3 from HF names (target_modules with a regex, feedforward_modules)', createModel: createConformanceGpt, methods: () => [ia3({ hfTargetModules: '.*\\.(c_attn|mlp\\.c_proj)', hfFeedforwardModules: ['mlp.c_proj'] })] });

describeMethodChecks('ia3', { methods: () => [ia3()], steps: 60, learningRate: 0.05 });

describe('ia3', () => {
  it('scales keys and values by output vectors and the FFN down projection by an input vector', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [ia3()]);
    const key = tuned.model.getModule<Ia3Linear>('encoder.layers.0.attention.key');
    const down = tuned.model.getModule<Ia3Linear>('encoder.layers.0.ffn.down');
    expect(key).toBeInstanceOf(Ia3Linear);
    expect(key.isFeedforward()).toBe(false);
    expect(down.isFeedforward()).toBe(true);
    expect(down.vectorOf().shape).toEqual([32]);
    expect(tuned.model.getModule('encoder.layers.0.attention.query')).not.toBeInstanceOf(Ia3Linear);
    // 2 layers × (16 + 16 + 32)
    expect(tuned.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(128);
    model.dispose();
  });
});
