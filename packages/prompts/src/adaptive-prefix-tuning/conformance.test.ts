import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { conformanceGpt } from '../shared/models.test-support';
import { adaptivePrefixTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const prompts = { identityAtInit: false, mergeable: false } as const;

describeConformance({
  name: 'adaptive prefix tuning on BERT (classifier trained)',
  ...prompts,
  methods: () => [adaptivePrefixTuning({ numVirtualTokens: 3, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: adaptivePrefixTuning, config: { initialLayerScale: 0 }, field: 'initialLayerScale' },
    { method: adaptivePrefixTuning, config: { prefixProjection: true }, field: 'prefixProjection' },
    { method: adaptivePrefixTuning, config: { numVirtualTokens: -2 }, field: 'numVirtualTokens' },
  ],
});

describeConformance({ name: 'adaptive prefix tuning on GPT-2', ...prompts, createModel: conformanceGpt, methods: () => [adaptivePrefixTuning({ numVirtualTokens: 2 })] });
