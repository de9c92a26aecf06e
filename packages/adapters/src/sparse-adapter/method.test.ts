import { peft, tf, type Batch } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeMethodChecks } from '../shared/method-checks';
import { createConformanceGpt, createTrainingBase, trainSteps } from '../shared/test-support';
import type { SparseSublayerAdapter} from './layer';
import { topEntriesMask } from './layer';
import { sparseAdapter, type SparseAdapterApplied } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const invalidConfigs = [
  { method: sparseAdapter, config: { sparsity: 1 }, field: 'sparsity' },
  { method: sparseAdapter, config: { criterion: 'fisher' }, field: 'criterion' },
  { method: sparseAdapter, config: { placement: 'after' }, field: 'placement' },
];

describeConformance({ name: 'sparse-adapter on BERT (magnitude)', methods: () => [sparseAdapter({ bottleneckSize: 4, criterion: 'magnitude' })], mergeable: false, invalidConfigs });
describeConformance({ name: 'sparse-adapter on GPT-2 (random, parallel)', createModel: createConformanceGpt, methods: () => [sparseAdapter({ bottleneckSize: 4, criterion: 'random', placement: 'parallel', sublayers: ['ffn'] })], mergeable: false });
describeConformance({ name: 'sparse-adapter with the head trained', methods: () => [sparseAdapter({ bottleneckSize: 4, modulesToSave: { roles: ['head'] } })], mergeable: false });

describeMethodChecks('sparse-adapter', { methods: () => [sparseAdapter({ bottleneckSize: 4, sparsity: 0.3 })], gradientMethods: () => [sparseAdapter({ bottleneckSize: 4, sparsity: 0.3, nonLinearity: 'tanh' })] });

describe('sparse-adapter', () => {
  it('topEntriesMask keeps the highest scores', () => {
    expect(Array.from(topEntriesMask([0.3, -1, 2, 0.5, 0.3], 3))).toEqual([1, 0, 1, 1, 0]);
  });

  it('prunes each projection to the sparsity, counts only unpruned entries, and keeps them at zero through training', () => {
    const base = createTrainingBase('bert');
    base.eval();
    const batch: Batch = conformanceBatch(base, { batch: 6, seed: 11 });
    const tuned = peft(base, [sparseAdapter({ bottleneckSize: 4, sparsity: 0.5, criterion: 'magnitude' })]);
    const applied = tuned.appliedMethods()[0] as SparseAdapterApplied;
    // 4 sites × (64 + 4 + 64 + 16) = 592 entries in tensors; half of the 4 × 128 projection entries are pruned.
    expect(applied.summary()).toEqual({ unprunedEntries: 592 - 256, prunedEntries: 256, tensorEntries: 592 });
    const wrapper = tuned.model.getModule<SparseSublayerAdapter>('encoder.layers.0.ffn');
    const down = wrapper.adapter('default').parameters.get('adapterDown');
    const mask = wrapper.maskOf('default', 'adapterDown').value.dataSync();
    // Magnitude: the kept entries of W_down are exactly the larger half of |W_down| (checked against a sort done here).
    const magnitudes = Array.from(down.value.dataSync(), Math.abs);
    const threshold = [...magnitudes].sort((a, b) => b - a)[31]!;
    magnitudes.forEach((value, i) => expect(mask[i]).toBe(value >= threshold ? 1 : 0));
    trainSteps(tuned, batch, 10, 0.05);
    const after = down.value.dataSync();
    const pruned = Array.from(mask).flatMap((m, i) => (m === 0 ? [after[i]!] : []));
    const kept = Array.from(mask).flatMap((m, i) => (m === 1 ? [after[i]!] : []));
    expect(pruned.every((value) => value === 0)).toBe(true);
    expect(Math.max(...kept.map(Math.abs))).toBeGreaterThan(0);
    disposeBatch(batch);
    base.dispose();
  });

  it('snip: calibration keeps the entries with the largest |w·∂L/∂w| (|∂L/∂w| for W_up)', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model);
    const tuned = peft(model, [sparseAdapter({ bottleneckSize: 4, sparsity: 0.75, sublayers: ['ffn'] })]);
    const wrapper = tuned.model.getModule<SparseSublayerAdapter>('encoder.layers.1.ffn');
    const up = wrapper.adapter('default').parameters.get('adapterUp');
    // Calibration scores the unmasked adapter: compute |∂L/∂W_up| here the same way, with both masks at one.
    const provisional = Array.from(wrapper.maskOf('default', 'adapterUp').value.dataSync());
    for (const weight of ['adapterDown', 'adapterUp'] as const) wrapper.maskOf('default', weight).assign(tf.onesLike(wrapper.maskOf('default', weight).value));
    const loss = () => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask);
    const { value, grads } = tf.variableGrads(loss, [up.variable]);
    const expected = topEntriesMask(Array.from(grads[up.variable.name]!.dataSync(), Math.abs), 16);
    tf.dispose([value, ...Object.values(grads)]);
    await tuned.appliedMethods()[0]!.calibrate!({ batches: [batch], loss, forward: (b) => tuned.forward(b) });
    expect(Array.from(wrapper.maskOf('default', 'adapterUp').value.dataSync())).toEqual(Array.from(expected));
    expect(Array.from(expected)).not.toEqual(provisional);
    expect(Array.from(expected).filter((m) => m === 1)).toHaveLength(16);
    disposeBatch(batch);
    model.dispose();
  });
});
