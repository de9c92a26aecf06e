import { peft, tf } from '@peftjs/core';
import { createConformanceBert } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseMethodChecks } from '../shared/sparse-checks';
import { sparseDeltaOf } from '../shared/test-support';
import { randomMask } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('random-mask', () => {
  it('draws k = ⌊N·p⌋ distinct entries of the block tensors, the same under a seed and others under another', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [randomMask({ density: 0.02, seed: 3, modulesToSave: null })]);
    const delta = sparseDeltaOf(tuned);
    const total = delta.targets.reduce((n, t) => n + t.parameter.size, 0);
    expect(delta.targets.every((t) => t.path.includes('layers.'))).toBe(true);
    expect(delta.size).toBe(Math.floor(total * 0.02));
    expect(new Set(delta.globalIndices()).size).toBe(delta.size);
    expect(tuned.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(delta.size);
    const again = createConformanceBert();
    const same = sparseDeltaOf(peft(again, [randomMask({ density: 0.02, seed: 3, modulesToSave: null })]));
    expect(Array.from(same.globalIndices())).toEqual(Array.from(delta.globalIndices()));
    const third = createConformanceBert();
    const other = sparseDeltaOf(peft(third, [randomMask({ density: 0.02, seed: 4, modulesToSave: null })]));
    expect(Array.from(other.globalIndices())).not.toEqual(Array.from(delta.globalIndices()));
    [model, again, third].forEach((m) => m.dispose());
  });

  it('rows layout takes whole rows of each matrix', () => {
    const model = createConformanceBert();
    const delta = sparseDeltaOf(peft(model, [randomMask({ density: 0.25, layout: 'rows', seed: 1 })]));
    const t = delta.targets.findIndex((target) => target.parameter.shape.length === 2);
    const [, columns] = delta.targets[t]!.parameter.shape as [number, number];
    const local = Array.from(delta.localIndices(t));
    expect(local.length).toBe(Math.floor(delta.targets[t]!.parameter.size * 0.25));
    const rows = new Set(local.map((i) => Math.floor(i / columns)));
    expect(rows.size * columns).toBe(local.length);
    model.dispose();
  });

  sparseMethodChecks(() => randomMask({ density: 0.05, seed: 2 }));
});
