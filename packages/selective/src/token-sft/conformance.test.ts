import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { tokenSft } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// With the model's own [CLS] pooling the method changes only how gradient flows: outputs are the
// base model's in eval and in training.
describeConformance({
  name: "token-sft (pooling 'cls')",
  methods: () => [tokenSft({ k: 3, pooling: 'cls' })],
  invalidConfigs: [
    { method: tokenSft, config: { k: 0 }, field: 'k' },
    { method: tokenSft, config: { pooling: 'max' }, field: 'pooling' },
    { method: tokenSft, config: { trainParameters: 'some' }, field: 'trainParameters' },
    { method: tokenSft, config: { seed: -1 }, field: 'seed' },
  ],
});

// Mean pooling (Eq. 1) replaces the [CLS] read by an average, so outputs differ from the base at init.
describeConformance({ name: "token-sft (pooling 'mean')", methods: () => [tokenSft({ k: 3 })], identityAtInit: false });
