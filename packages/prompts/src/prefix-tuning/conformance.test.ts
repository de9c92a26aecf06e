import { gate, tf } from '@peftjs/core';
import { describeConformance } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { pTuningV2 } from '../p-tuning-v2/method';
import { conformanceGpt } from '../shared/models.test-support';
import { prefixTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const prompts = { identityAtInit: false, mergeable: false } as const;

describeConformance({
  name: 'prefix tuning on BERT (plain prefix, classifier trained)',
  ...prompts,
  methods: () => [prefixTuning({ numVirtualTokens: 3, modulesToSave: { roles: ['head'] } })],
  invalidConfigs: [
    { method: prefixTuning, config: { numVirtualTokens: 0 }, field: 'numVirtualTokens' },
    { method: prefixTuning, config: { encoderHiddenSize: 8 }, field: 'encoderHiddenSize' },
    { method: prefixTuning, config: { prefixProjection: 'yes' }, field: 'prefixProjection' },
    { method: prefixTuning, config: { layers: [] }, field: 'layers' },
    { method: prefixTuning, config: { initStd: -1 }, field: 'initStd' },
  ],
});

describeConformance({ name: 'prefix tuning on BERT with the MLP reparametrization', ...prompts, methods: () => [prefixTuning({ numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8 })] });

describeConformance({ name: 'prefix tuning on GPT-2 (plain, layer 1 only)', ...prompts, createModel: conformanceGpt, methods: () => [prefixTuning({ numVirtualTokens: 3, layers: [1] })] });

describeConformance({ name: 'prefix tuning on GPT-2 with the MLP reparametrization', ...prompts, createModel: conformanceGpt, methods: () => [prefixTuning({ numVirtualTokens: 2, prefixProjection: true })] });

describeConformance({ name: 'gated prefix tuning (UniPELT gate on the prefix)', ...prompts, methods: () => [prefixTuning({ numVirtualTokens: 2 }), gate({ methods: ['prefix-tuning'] })] });

describeConformance({
  name: 'P-tuning v2 on BERT (deep prompts, head trained by default)',
  ...prompts,
  methods: () => [pTuningV2({ numVirtualTokens: 3 })],
  invalidConfigs: [
    { method: pTuningV2, config: { prefixProjection: true }, field: 'prefixProjection' },
    { method: pTuningV2, config: { numVirtualTokens: 1.5 }, field: 'numVirtualTokens' },
  ],
});

describeConformance({ name: 'P-tuning v2 on GPT-2', ...prompts, createModel: conformanceGpt, methods: () => [pTuningV2({ numVirtualTokens: 2 })] });
