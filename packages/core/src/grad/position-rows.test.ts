import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { gatherPositions, mergePositions } from './position-rows';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function values(x: tf.Tensor): number[] {
  return Array.from(x.dataSync());
}

describe('gatherPositions', () => {
  it('matches tf.gather with batchDims=1 in value and gradient', () => {
    const x = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 1);
    const positions = tf.tensor2d([[4, 0], [2, 2]], undefined, 'int32');
    const weights = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 2);
    const ours = (input: tf.Tensor) => tf.sum(tf.mul(gatherPositions(input, positions), weights));
    const reference = (input: tf.Tensor) => tf.sum(tf.mul(tf.gather(input, positions, 1, 1), weights));
    expect(values(gatherPositions(x, positions))).toEqual(values(tf.gather(x, positions, 1, 1)));
    const [gradient] = tf.grads(ours)([x]);
    const [expected] = tf.grads(reference)([x]);
    // Duplicate position 2 in the second row: both rows' weights add up there.
    expect(values(gradient!)).toEqual(values(expected!));
    tf.dispose([x, positions, weights, gradient!, expected!]);
  });
});

describe('mergePositions', () => {
  it('replaces the rows at positions and sends gradient to those rows only', () => {
    const constant = tf.tensor3d([[[1], [2], [3]], [[4], [5], [6]]]);
    const rows = tf.tensor3d([[[10]], [[30]]]);
    const positions = tf.tensor2d([[1], [2]], undefined, 'int32');
    expect(values(mergePositions(constant, rows, positions))).toEqual([1, 10, 3, 4, 5, 30]);
    const weights = tf.tensor3d([[[1], [2], [3]], [[4], [5], [6]]]);
    const [dRows] = tf.grads((r: tf.Tensor) => tf.sum(tf.mul(mergePositions(constant, r, positions), weights.mul(r.sum()))))([rows]);
    // loss = sum(merged·w)·s with s = sum(rows) = 40; merged·w summed = 1+20+9+16+25+180 = 251.
    // d/d rows[b] = w[b, pos]·s + 251 → [2·40 + 251, 6·40 + 251].
    expect(values(dRows!)).toEqual([331, 491]);
    tf.dispose([constant, rows, positions, weights, dRows!]);
  });

  it('gives the constant no gradient path', () => {
    const constant = tf.variable(tf.ones([1, 3, 2]));
    const rows = tf.variable(tf.ones([1, 1, 2]));
    const positions = tf.tensor2d([[0]], undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => tf.sum(mergePositions(constant, rows, positions)), [constant, rows]);
    expect(Object.keys(grads)).toEqual([rows.name]);
    expect(values(grads[rows.name]!)).toEqual([1, 1]);
    expect(() => mergePositions(constant, tf.ones([1, 2, 2]), positions)).toThrow(/rows/);
    tf.dispose([value, ...Object.values(grads), constant, rows, positions]);
  });
});
