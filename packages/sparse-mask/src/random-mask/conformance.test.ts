import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { randomMask } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'random-mask (BERT)',
  methods: () => [randomMask({ density: 0.05, seed: 1 })],
  invalidConfigs: [
    { method: randomMask, config: { density: 0 }, field: 'density' },
    { method: randomMask, config: { density: 1.5 }, field: 'density' },
    { method: randomMask, config: { layout: 'diagonal' }, field: 'layout' },
    { method: randomMask, config: { seed: -1 }, field: 'seed' },
  ],
});
describeConformance({ name: 'random-mask (GPT-2)', createModel: createConformanceGpt, methods: () => [randomMask({ density: 0.05, seed: 1 })] });
describeConformance({ name: 'random-mask rows, no head (BERT)', methods: () => [randomMask({ density: 0.1, layout: 'rows', modulesToSave: null })] });
