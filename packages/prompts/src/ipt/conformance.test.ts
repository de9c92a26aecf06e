import { tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { conformanceGpt } from '../shared/models.test-support';
import { ipt } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'IPT on BERT (intrinsic vector through a frozen decoder, classifier trained)',
  identityAtInit: false,
  mergeable: false,
  methods: () => [ipt({ numVirtualTokens: 3, intrinsicDim: 4, decoderHiddenSize: 8, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: ipt, config: { intrinsicDim: 0 }, field: 'intrinsicDim' },
    { method: ipt, config: { decoderHiddenSize: 2.5 }, field: 'decoderHiddenSize' },
  ],
});

describeConformance({ name: 'IPT on GPT-2', identityAtInit: false, mergeable: false, createModel: conformanceGpt, methods: () => [ipt({ numVirtualTokens: 2, intrinsicDim: 3, decoderHiddenSize: 8 })] });
