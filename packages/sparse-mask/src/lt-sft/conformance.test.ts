import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { ltSft } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'lt-sft (BERT)',
  methods: () => [ltSft({ density: 0.05 })],
  invalidConfigs: [
    { method: ltSft, config: { fullSteps: 0 }, field: 'fullSteps' },
    { method: ltSft, config: { fullLearningRate: -1 }, field: 'fullLearningRate' },
  ],
});
describeConformance({ name: 'lt-sft (GPT-2)', createModel: createConformanceGpt, methods: () => [ltSft({ density: 0.05 })] });
describeConformance({ name: 'lt-sft + lt-sft composed in one adapter (BERT)', methods: () => [ltSft({ density: 0.05, seed: 1 }), ltSft({ density: 0.05, seed: 2, modulesToSave: null })] });
