import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { magnitudeMask } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'magnitude-mask (BERT)',
  methods: () => [magnitudeMask({ density: 0.05 })],
  invalidConfigs: [
    { method: magnitudeMask, config: { order: 'median' }, field: 'order' },
    { method: magnitudeMask, config: { allocation: 'layer' }, field: 'allocation' },
    { method: magnitudeMask, config: { density: -0.1 }, field: 'density' },
  ],
});
describeConformance({ name: 'magnitude-mask smallest per tensor (GPT-2)', createModel: createConformanceGpt, methods: () => [magnitudeMask({ density: 0.05, order: 'smallest', allocation: 'per-tensor' })] });
