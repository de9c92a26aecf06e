import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { far } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'far (calibrated feed-forward units + head)',
  methods: () => [far({ fraction: 0.25 })],
  invalidConfigs: [
    { method: far, config: { fraction: 0 }, field: 'fraction' },
    { method: far, config: { fraction: 1.5 }, field: 'fraction' },
    { method: far, config: { selection: 'magnitude' }, field: 'selection' },
    { method: far, config: { primingSteps: 0 }, field: 'primingSteps' },
  ],
});

describeConformance({ name: 'far random units, up projection only, no head', methods: () => [far({ selection: 'random', targets: { roles: ['ffn.up'] }, trainHead: false, seed: 3 })] });
