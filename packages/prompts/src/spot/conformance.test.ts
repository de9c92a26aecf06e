import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { conformanceGpt } from '../shared/models.test-support';
import { spot } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const source = Array.from({ length: 3 }, (_, i) => Array.from({ length: 16 }, (_, j) => Math.sin(i * 16 + j)));

describeConformance({
  name: 'SPoT on BERT (from a source prompt, classifier trained)',
  identityAtInit: false,
  mergeable: false,
  methods: () => [spot({ numVirtualTokens: 3, sourceRows: source, sourceName: 'sin', modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: spot, config: { numVirtualTokens: 2, sourceRows: source }, field: 'sourceRows' },
    { method: spot, config: { numVirtualTokens: 2, sourceRows: [[1, 2], [3]] }, field: 'sourceRows' },
    { method: spot, config: { sourceName: '' }, field: 'sourceName' },
  ],
});

describeConformance({ name: 'SPoT on GPT-2 (no source: sample-vocab)', identityAtInit: false, mergeable: false, createModel: conformanceGpt, methods: () => [spot({ numVirtualTokens: 2 })] });
