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

  it('named adapters each hold their own delta; switching adapters switches the deltas', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [randomMask({ density: 0.05, seed: 1 })]);
    tuned.addAdapter('second', [randomMask({ density: 0.05, seed: 2 })]);
    const batch = { inputIds: tf.tensor2d([[3, 7, 9, 11]], [1, 4], 'int32') };
    const hidden = () => tf.tidy(() => Array.from(tuned.forward(batch).lastHiddenState.dataSync()));
    tuned.model.eval();
    const base = hidden();
    const deltas = tuned.model.namedParameters().filter(([path]) => path.startsWith('random_mask_'));
    expect(deltas.map(([path]) => path).sort()).toEqual(['random_mask_default.values', 'random_mask_second.values']);
    deltas.forEach(([, p], i) => p.assign(tf.fill(p.shape, 0.3 * (i + 1))));
    const first = hidden();
    tuned.setAdapter('second');
    const second = hidden();
    tuned.setAdapter('default');
    const again = hidden();
    const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    expect(maxDiff(first, base)).toBeGreaterThan(1e-2);
    expect(maxDiff(second, first)).toBeGreaterThan(1e-2);
    expect(maxDiff(again, first)).toBeLessThan(1e-6);
    batch.inputIds.dispose();
    model.dispose();
  });

  sparseMethodChecks(() => randomMask({ density: 0.05, seed: 2 }));
});
