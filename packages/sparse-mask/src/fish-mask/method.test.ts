import { peft, tf } from '@peftjs/core';
import { createConformanceBert, disposeBatch } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseMethodChecks } from '../shared/sparse-checks';
import { calibrationContextFor, examplesOf, referenceTopK, sparseDeltaOf, trainingBatches } from '../shared/test-support';
import { fishMask } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('fish-mask', () => {
  it('calibrate keeps the top-k entries of the per-example empirical Fisher, up to maxExamples (against plain JS)', () => {
    const reference = createConformanceBert();
    const model = createConformanceBert();
    const batches = trainingBatches(model, 2, 3);
    const tuned = peft(model, [fishMask({ density: 0.02, maxExamples: 5 })]);
    const delta = sparseDeltaOf(tuned);
    tuned.appliedMethods()[0]!.calibrate!(calibrationContextFor(model, batches));
    const referenceParameters = delta.targets.map((t) => reference.namedParameters().find(([p]) => p === t.path)![1]);
    const examples = batches.flatMap(examplesOf);
    const expected = referenceTopK(reference, referenceParameters, examples.slice(0, 5), delta.size);
    expect(Array.from(delta.globalIndices())).toEqual(expected);
    // Per example differs from per batch (SAM's unit) on the same data.
    expect(referenceTopK(reference, referenceParameters, batches, delta.size)).not.toEqual(expected);
    examples.forEach(disposeBatch);
    batches.forEach(disposeBatch);
    [model, reference].forEach((m) => m.dispose());
  });

  sparseMethodChecks(() => fishMask({ density: 0.05, maxExamples: 8 }));
});
