import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { createConformanceGpt } from '../shared/test-support';
import { diffPruning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  // The dense phase (projectAtEnd off: the suite's single step would otherwise project, moving the delta it did not declare).
  name: 'diff-pruning (BERT, dense phase)',
  methods: () => [diffPruning({ density: 0.05, alphaInit: 0.5, projectAtEnd: false })],
  invalidConfigs: [
    { method: diffPruning, config: { stretch: [0.5, 1.5] }, field: 'stretch' },
    { method: diffPruning, config: { l0Weight: -1 }, field: 'l0Weight' },
    { method: diffPruning, config: { temperature: 0 }, field: 'temperature' },
  ],
});
describeConformance({ name: 'diff-pruning (GPT-2)', createModel: createConformanceGpt, methods: () => [diffPruning({ density: 0.05, alphaInit: 0.5, projectAtEnd: false })] });
describeConformance({ name: 'diff-pruning with the group penalty, not projected (BERT)', methods: () => [diffPruning({ density: 0.05, groupPenalty: true, projectAtEnd: false, alphaInit: 0.5 })] });
