import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { sam } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'sam (BERT)',
  methods: () => [sam({ density: 0.05 })],
  invalidConfigs: [
    { method: sam, config: { density: 2 }, field: 'density' },
    { method: sam, config: { modulesToSave: { roles: [] } }, field: 'modulesToSave' },
  ],
});
describeConformance({ name: 'sam (GPT-2)', createModel: createConformanceGpt, methods: () => [sam({ density: 0.05 })] });
