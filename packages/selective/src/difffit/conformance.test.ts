import { createGpt, setGlobalSeed, tf } from '@peftjs/core';
import { describeConformance, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { diffFit } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'difffit (biases, norms, residual scales, head)',
  methods: () => [diffFit()],
  invalidConfigs: [
    { method: diffFit, config: { branches: [] }, field: 'branches' },
    { method: diffFit, config: { branches: ['cross-attention'] }, field: 'branches' },
    { method: diffFit, config: { init: Number.NaN }, field: 'init' },
    { method: diffFit, config: { layers: [] }, field: 'layers' },
    { method: diffFit, config: { trainNorms: 'yes' }, field: 'trainNorms' },
  ],
});

describeConformance({ name: 'difffit scales only, no head', methods: () => [diffFit({ trainBiases: false, trainNorms: false, trainHead: false })] });

describeConformance({
  name: 'difffit on GPT-2 (pre-LN)',
  createModel: () => {
    setGlobalSeed(4321);
    return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 }) as unknown as ConformanceModel;
  },
  methods: () => [diffFit()],
});
