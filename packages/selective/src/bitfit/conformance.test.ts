import { createGpt, setGlobalSeed, tf } from '@peftjs/core';
import { describeConformance, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll } from 'vitest';
import { lnTuning } from '../ln-tuning/method';
import { perturbSelected } from '../selection/test-support';
import { bitfit } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function createConformanceGpt(): ConformanceModel {
  setGlobalSeed(4321);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 }) as unknown as ConformanceModel;
}

describeConformance({
  name: 'bitfit (all bias terms + head)',
  methods: () => [bitfit()],
  invalidConfigs: [
    { method: bitfit, config: { subset: 'weights' }, field: 'subset' },
    { method: bitfit, config: { subset: 'all', budget: 10 }, field: 'budget' },
    { method: bitfit, config: { subset: 'random-entries', budget: 0 }, field: 'budget' },
    { method: bitfit, config: { trainHead: 'yes' }, field: 'trainHead' },
    { method: bitfit, config: { seed: -1 }, field: 'seed' },
  ],
});

describeConformance({ name: 'bitfit query-and-intermediate without head', methods: () => [bitfit({ subset: 'query-and-intermediate', trainHead: false })] });

describeConformance({ name: 'bitfit random-entries (partial tensors)', methods: () => [bitfit({ subset: 'random-entries', budget: 40, seed: 3 })], perturb: perturbSelected });

describeConformance({ name: 'bitfit random-rows-columns (partial weight matrices)', methods: () => [bitfit({ subset: 'random-rows-columns', seed: 1 })], perturb: perturbSelected });

describeConformance({
  name: 'bitfit query-and-intermediate on GPT-2 (first third of the fused qkv bias)',
  createModel: createConformanceGpt,
  methods: () => [bitfit({ subset: 'query-and-intermediate' })],
  perturb: perturbSelected,
});

describeConformance({
  name: 'bitfit + ln-tuning gammas (BitFit+ "g_LN1, g_LN2, BitFit")',
  methods: () => [bitfit(), lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'] })],
});

describeConformance({ name: 'bitfit all bias terms on GPT-2 (bias-less score head trained in full)', createModel: createConformanceGpt, methods: () => [bitfit()] });

describeConformance({
  name: 'bitfit all-except-query-and-intermediate on GPT-2 (last two thirds of qkv)',
  createModel: createConformanceGpt,
  methods: () => [bitfit({ subset: 'all-except-query-and-intermediate', trainHead: false })],
  perturb: perturbSelected,
});

describeConformance({ name: 'bitfit layernorm (b_LN1, b_LN2)', methods: () => [bitfit({ subset: 'layernorm' })] });
