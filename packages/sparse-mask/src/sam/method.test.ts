import { peft, tf } from '@peftjs/core';
import { createConformanceBert, disposeBatch } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseMethodChecks } from '../shared/sparse-checks';
import { calibrationContextFor, referenceTopK, sparseDeltaOf, trainingBatches } from '../shared/test-support';
import { sam } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('sam', () => {
  it('calibrate keeps the top ⌊mp⌋ entries of Σ_batches g² at θ0 (against plain JS on the bare model)', () => {
    const reference = createConformanceBert();
    const model = createConformanceBert();
    const batches = trainingBatches(model, 3);
    const tuned = peft(model, [sam({ density: 0.02, seed: 1 })]);
    const delta = sparseDeltaOf(tuned);
    const before = Array.from(delta.globalIndices());
    delta.values.assign(tf.fill([delta.size], 0.5)); // calibration must read θ0, not θ0 + δ
    tuned.appliedMethods()[0]!.calibrate!(calibrationContextFor(model, batches));
    const paths = delta.targets.map((t) => t.path);
    const referenceParameters = paths.map((path) => reference.namedParameters().find(([p]) => p === path)![1]);
    const expected = referenceTopK(reference, referenceParameters, batches, delta.size);
    expect(Array.from(delta.globalIndices())).toEqual(expected);
    expect(expected).not.toEqual(before);
    expect(Array.from(delta.values.value.dataSync()).every((v) => v === 0)).toBe(true);
    batches.forEach(disposeBatch);
    [model, reference].forEach((m) => m.dispose());
  });

  sparseMethodChecks(() => sam({ density: 0.05 }));
});
