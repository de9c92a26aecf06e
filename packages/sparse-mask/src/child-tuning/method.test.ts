import { peft, tf, type Parameter } from '@peftjs/core';
import { createConformanceBert, disposeBatch } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseMethodChecks } from '../shared/sparse-checks';
import { calibrationContextFor, examplesOf, referenceTopK, sparseDeltaOf, trainBriefly, trainingBatches } from '../shared/test-support';
import { childTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('child-tuning D', () => {
  it('calibrate keeps the top p_D entries by per-example Fisher (against plain JS)', () => {
    const reference = createConformanceBert();
    const model = createConformanceBert();
    const batches = trainingBatches(model, 1, 4);
    const tuned = peft(model, [childTuning({ mode: 'D', density: 0.1 })]);
    const delta = sparseDeltaOf(tuned);
    tuned.appliedMethods()[0]!.calibrate!(calibrationContextFor(model, batches));
    const referenceParameters = delta.targets.map((t) => reference.namedParameters().find(([p]) => p === t.path)![1]);
    const examples = batches.flatMap(examplesOf);
    expect(Array.from(delta.globalIndices())).toEqual(referenceTopK(reference, referenceParameters, examples, delta.size));
    examples.forEach(disposeBatch);
    batches.forEach(disposeBatch);
    [model, reference].forEach((m) => m.dispose());
  });

  sparseMethodChecks(() => childTuning({ mode: 'D', density: 0.05 }));
});

describe('child-tuning F', () => {
  it('masks each step afresh: kept entries are g / p_F, about p_F of them, deterministic under the seed', () => {
    const run = (seed: number) => {
      const model = createConformanceBert();
      const tuned = peft(model, [childTuning({ mode: 'F', density: 0.3, seed, modulesToSave: null })]);
      const parameter = tuned.trainableParameters().find((p) => p.size >= 256)!;
      const gradient = tf.fill(parameter.shape, 2);
      const method = tuned.appliedMethods()[0]!;
      const first = method.transformGradients!(new Map<Parameter, tf.Tensor>([[parameter, gradient]])).get(parameter)!;
      const second = method.transformGradients!(new Map<Parameter, tf.Tensor>([[parameter, gradient]])).get(parameter)!;
      const a = Array.from(first.dataSync());
      const b = Array.from(second.dataSync());
      tf.dispose([gradient, first, second]);
      model.dispose();
      return { a, b };
    };
    const { a, b } = run(1);
    expect(new Set(a.map((v) => Math.fround(v)))).toEqual(new Set([0, Math.fround(2 / 0.3)]));
    const kept = a.filter((v) => v !== 0).length / a.length;
    expect(kept).toBeGreaterThan(0.2);
    expect(kept).toBeLessThan(0.4);
    expect(b).not.toEqual(a);
    expect(run(1).a).toEqual(a);
    expect(run(2).a).not.toEqual(a);
  });

  it('trains every target entry through the masked gradients and lowers the loss', async () => {
    const { tuned, before, after, release } = await trainBriefly([childTuning({ mode: 'F', density: 0.5 })], { learningRate: 1e-2, steps: 60 });
    expect(after).toBeLessThan(before - 0.05);
    expect(tuned.report().trainable).toBe(tuned.trainableParameters().reduce((n, p) => n + p.size, 0));
    release();
  });
});
