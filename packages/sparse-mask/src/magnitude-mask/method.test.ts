import { peft, tf } from '@peftjs/core';
import { createConformanceBert } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseMethodChecks } from '../shared/sparse-checks';
import { referenceTopKOfScores, sparseDeltaOf } from '../shared/test-support';
import { magnitudeMask } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('magnitude-mask', () => {
  for (const order of ['largest', 'smallest'] as const) {
    it(`keeps the k entries of ${order} |θ0| over all block tensors (against a full sort in plain JS)`, () => {
      const model = createConformanceBert();
      const delta = sparseDeltaOf(peft(model, [magnitudeMask({ density: 0.03, order })]));
      const sign = order === 'largest' ? 1 : -1;
      const scores = delta.targets.map(({ parameter }) => Array.from(parameter.variable.dataSync(), (v) => sign * Math.abs(v)));
      expect(Array.from(delta.globalIndices())).toEqual(referenceTopKOfScores(scores, delta.size));
      model.dispose();
    });
  }

  it('per-tensor allocation takes ⌊size·p⌋ of each tensor', () => {
    const model = createConformanceBert();
    const delta = sparseDeltaOf(peft(model, [magnitudeMask({ density: 0.1, allocation: 'per-tensor' })]));
    expect(delta.entriesPerTarget()).toEqual(delta.targets.map(({ parameter }) => Math.floor(parameter.size * 0.1)));
    const t = 0;
    const values = Array.from(delta.targets[t]!.parameter.variable.dataSync(), Math.abs);
    expect(Array.from(delta.localIndices(t))).toEqual(referenceTopKOfScores([values], Math.floor(values.length * 0.1)));
    model.dispose();
  });

  sparseMethodChecks(() => magnitudeMask({ density: 0.05 }));
});
