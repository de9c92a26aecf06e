import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { childTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'child-tuning D (BERT)',
  methods: () => [childTuning({ mode: 'D', density: 0.05 })],
  invalidConfigs: [{ method: childTuning, config: { mode: 'E' }, field: 'mode' }],
});
describeConformance({ name: 'child-tuning D (GPT-2)', createModel: createConformanceGpt, methods: () => [childTuning({ mode: 'D', density: 0.05 })] });
describeConformance({ name: 'child-tuning F (BERT)', methods: () => [childTuning({ mode: 'F', density: 0.3 })] });
describeConformance({ name: 'child-tuning F (GPT-2)', createModel: createConformanceGpt, methods: () => [childTuning({ mode: 'F', density: 0.3 })] });
