import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { mixout } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'mixout (BERT)',
  methods: () => [mixout({ probability: 0.5 })],
  invalidConfigs: [
    { method: mixout, config: { probability: 1 }, field: 'probability' },
    { method: mixout, config: { probability: 0 }, field: 'probability' },
  ],
});
describeConformance({ name: 'mixout (GPT-2)', createModel: createConformanceGpt, methods: () => [mixout({ probability: 0.5 })] });
