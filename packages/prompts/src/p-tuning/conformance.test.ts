import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { conformanceGpt } from '../shared/models.test-support';
import { pTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const prompts = { identityAtInit: false, mergeable: false } as const;

describeConformance({
  name: 'P-tuning on BERT (MLP encoder, classifier trained)',
  ...prompts,
  methods: () => [pTuning({ numVirtualTokens: 3, encoderHiddenSize: 8, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: pTuning, config: { encoder: 'gru' }, field: 'encoder' },
    { method: pTuning, config: { encoder: 'mlp', encoderNumLayers: 3 }, field: 'encoderNumLayers' },
    { method: pTuning, config: { encoder: 'table', encoderHiddenSize: 4 }, field: 'encoderHiddenSize' },
    { method: pTuning, config: { encoderDropout: 1 }, field: 'encoderDropout' },
  ],
});

describeConformance({ name: 'P-tuning on GPT-2 (bidirectional LSTM encoder)', ...prompts, createModel: conformanceGpt, methods: () => [pTuning({ numVirtualTokens: 3, encoder: 'lstm', encoderHiddenSize: 6 })] });

describeConformance({ name: 'P-tuning as a table (what HF files hold)', ...prompts, methods: () => [pTuning({ numVirtualTokens: 2, encoder: 'table' })] });
