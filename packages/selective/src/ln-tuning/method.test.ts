import { createGpt, type Parameter, peft, type SelectiveAppliedMethod, setGlobalSeed, tf, train } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { lnTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function createConformanceGpt(): ConformanceModel {
  setGlobalSeed(4321);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 }) as unknown as ConformanceModel;
}

describeConformance({
  name: 'ln-tuning (gamma and beta of every norm + head)',
  methods: () => [lnTuning()],
  invalidConfigs: [
    { method: lnTuning, config: { tensors: 'scale' }, field: 'tensors' },
    { method: lnTuning, config: { norms: [] }, field: 'norms' },
    { method: lnTuning, config: { norms: ['ln1'] }, field: 'norms.0' },
    { method: lnTuning, config: { gamma: true }, field: 'gamma' },
  ],
});

describeConformance({ name: 'ln-tuning g_LN2 only (BitFit+)', methods: () => [lnTuning({ tensors: 'gamma', norms: ['ffn'], trainHead: false })] });

describeConformance({ name: 'ln-tuning on GPT-2 (pre-LN, final norm)', createModel: createConformanceGpt, methods: () => [lnTuning({ norms: ['attention', 'final'] })] });

const paths = (method: SelectiveAppliedMethod) => method.selections.map((selection) => selection.path);

describe('ln-tuning', () => {
  it('maps BitFit+ LN1 to norm.attention and LN2 to norm.ffn, gamma or beta by tensor kind', () => {
    const model = createConformanceBert();
    const ln1 = peft(model, [lnTuning({ tensors: 'gamma', norms: ['attention'] })]);
    expect(paths(ln1.appliedMethods()[0] as SelectiveAppliedMethod)).toEqual(['encoder.layers.0.attentionNorm.gamma', 'encoder.layers.1.attentionNorm.gamma']);
    model.dispose();
    const other = createConformanceBert();
    const all = peft(other, [lnTuning({ trainHead: false })]);
    const method = all.appliedMethods()[0] as SelectiveAppliedMethod;
    // Embedding norm + 2 block norms per layer, gamma and beta each (h = 16); post-LN BERT has no final norm.
    expect(method.summary()).toEqual({ selectedEntries: (1 + 2 * 2) * 2 * 16, headEntries: 0, tensorEntries: 160, partialTensors: 0 });
    expect(paths(method)).toContain('embeddings.norm.beta');
    other.dispose();
  });

  it('fails listing what exists when no chosen norm is in the model', () => {
    const model = createConformanceBert();
    expect(() => peft(model, [lnTuning({ norms: ['final'] })])).toThrowError(expect.objectContaining({ code: 'selector-no-match', field: expect.stringContaining('ln-tuning.norms') }));
    // peft() puts the trainable flags back as they were (a fresh model trains everything).
    expect(model.parameters().every((parameter) => parameter.trainable)).toBe(true);
    model.dispose();
  });

  it('changes exactly the chosen gammas and the head after training', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 4 });
    const tuned = peft(model, [lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'] })]);
    const frozen = model.parameters().filter((parameter) => !parameter.trainable);
    const before = frozen.map((parameter: Parameter) => parameter.value.dataSync().slice());
    await train(tuned, { data: [batch], maxSteps: 3, learningRate: 1e-2, weightDecay: 0.1, excludeFromWeightDecay: [] });
    frozen.forEach((parameter, i) => expect([...parameter.value.dataSync()]).toEqual([...before[i]!]));
    // 2 layers × 2 norms × h = 16 gammas, plus the head's 16 × 3 + 3.
    expect(tuned.report().changed).toBe(64 + 51);
    disposeBatch(batch);
    model.dispose();
  });
});
