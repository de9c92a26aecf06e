import { Embedding, setGlobalSeed, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraEmbedding } from './embedding-layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function makeLayer(): LoraEmbedding {
  setGlobalSeed(8);
  const layer = new LoraEmbedding(new Embedding(7, 4, { role: 'embedding.token', initStd: 0.5 }), { r: 2, alpha: 3 });
  // A starts at zero (HF's init for embeddings); give it values so the update is visible.
  layer.loraA.assign(tf.randomNormal([7, 2], 0, 0.5, 'float32', 3));
  return layer;
}

describe('LoraEmbedding', () => {
  it('starts unchanged (A = 0) and keeps the base role and table reachable as `weight`', () => {
    setGlobalSeed(8);
    const base = new Embedding(7, 4, { role: 'embedding.token' });
    const layer = new LoraEmbedding(base, { r: 2, alpha: 3 });
    expect(layer.role).toBe('embedding.token');
    expect(layer.parameter('weight')).toBe(base.weight);
    const ids = tf.tensor2d([[1, 6, 0]], [1, 3], 'int32');
    expect(Array.from(layer.forward(ids).dataSync())).toEqual(Array.from(base.forward(ids).dataSync()));
    tf.dispose(ids);
  });

  it('looks up E0[id] + (α/r)·Σ_k A[k, id]·B[:, k]', () => {
    const layer = makeLayer();
    const table = layer.base.weight.value.arraySync() as number[][];
    const aT = layer.loraA.value.arraySync() as number[][];
    const bT = layer.loraB.value.arraySync() as number[][];
    const ids = [3, 0, 6, 3];
    const out = layer.forward(tf.tensor2d([ids], [1, 4], 'int32')).arraySync() as number[][][];
    ids.forEach((id, t) =>
      table[id]!.forEach((value, j) => expect(out[0]![t]![j]).toBeCloseTo(value + 1.5 * aT[id]!.reduce((sum, a, k) => sum + a * bT[k]![j]!, 0), 5)),
    );
  });

  it('merges into the table to 1e-5 and unmerges back', () => {
    const layer = makeLayer();
    const ids = tf.tensor2d([[1, 2, 5, 6]], [1, 4], 'int32');
    const before = layer.base.weight.value.dataSync().slice();
    const unmerged = layer.forward(ids).dataSync();
    layer.merge();
    layer.forward(ids).dataSync().forEach((value, i) => expect(Math.abs(value - unmerged[i]!)).toBeLessThan(1e-5));
    layer.unmerge();
    layer.base.weight.value.dataSync().forEach((value, i) => expect(Math.abs(value - before[i]!)).toBeLessThan(1e-6));
    tf.dispose(ids);
  });

  it('has gradients w.r.t. A and B that match central finite differences', () => {
    const layer = makeLayer();
    const ids = tf.tensor2d([[1, 3, 3, 5]], [1, 4], 'int32');
    const weights = tf.randomNormal([1, 4, 4], 0, 1, 'float32', 9);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(layer.forward(ids), weights)) as tf.Scalar);
    const { grads } = tf.variableGrads(loss, [layer.loraA.variable, layer.loraB.variable]);
    for (const parameter of [layer.loraA, layer.loraB]) {
      const analytic = grads[parameter.variable.name]!.dataSync();
      const values = parameter.value.dataSync().slice();
      for (let i = 0; i < values.length; i++) {
        const at = (delta: number) => {
          const copy = values.slice();
          copy[i]! += delta;
          tf.tidy(() => parameter.assign(tf.tensor(copy, parameter.shape)));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
        tf.tidy(() => parameter.assign(tf.tensor(values, parameter.shape)));
        expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
      }
    }
    tf.dispose([ids, weights, ...Object.values(grads)]);
  });
});
