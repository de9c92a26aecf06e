import { SeedStream, tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { conformanceGpt } from '../shared/models.test-support';
import { promptTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const prompts = { identityAtInit: false, mergeable: false } as const;

describeConformance({
  name: 'prompt tuning on BERT (sample-vocab init, classifier trained)',
  ...prompts,
  methods: () => [promptTuning({ numVirtualTokens: 3, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: promptTuning, config: { numVirtualTokens: 0 }, field: 'numVirtualTokens' },
    { method: promptTuning, config: { init: 'text' }, field: 'initTokenIds' },
    { method: promptTuning, config: { init: 'random', initTokenIds: [1] }, field: 'initTokenIds' },
    { method: promptTuning, config: { init: 'words' }, field: 'init' },
    { method: promptTuning, config: { initStd: 0 }, field: 'initStd' },
  ],
});

describeConformance({
  name: 'prompt tuning on BERT (random init, prompt only)',
  ...prompts,
  methods: () => [promptTuning({ numVirtualTokens: 2, init: 'random', initStd: 0.5 })],
  // Two soft tokens with the default noise move a 0.02-std model's logits by ~3e-4: use O(1) noise.
  perturb: (model) => {
    const random = new SeedStream(17);
    for (const parameter of model.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 1, 'float32', random.nextSeed()))));
  },
});

describeConformance({ name: 'prompt tuning on GPT-2 (text init)', ...prompts, createModel: conformanceGpt, methods: () => [promptTuning({ numVirtualTokens: 4, init: 'text', initTokenIds: [3, 1, 4] })] });
