import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { fishMask } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'fish-mask (BERT)',
  methods: () => [fishMask({ density: 0.05 })],
  invalidConfigs: [{ method: fishMask, config: { maxExamples: 0 }, field: 'maxExamples' }],
});
describeConformance({ name: 'fish-mask (GPT-2)', createModel: createConformanceGpt, methods: () => [fishMask({ density: 0.05 })] });
