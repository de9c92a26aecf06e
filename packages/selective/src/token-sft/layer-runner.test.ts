import { SeedStream, peft, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectPositions } from './layer-runner';
import { tokenSft } from './method';
import { installedRunner, lossOf, paddedBatch, tinyBert } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function maskOf(lengths: readonly number[], seq: number): number[][] {
  return lengths.map((length) => Array.from({ length: seq }, (_, i) => (i < length ? 1 : 0)));
}

describe('selectPositions', () => {
  it('draws k distinct sorted real positions per row, position 0 always, never padding', () => {
    const lengths = [16, 9, 12, 7];
    const random = new SeedStream(3);
    for (let draw = 0; draw < 50; draw++) {
      const positions = selectPositions(maskOf(lengths, 16), 5, random);
      positions.forEach((row, b) => {
        expect(row).toHaveLength(5);
        expect(row[0]).toBe(0);
        expect(new Set(row).size).toBe(5);
        expect([...row].sort((x, y) => x - y)).toEqual(row);
        expect(row.every((position) => position < lengths[b]!)).toBe(true);
      });
    }
  });

  it('is deterministic for a seed, differs across seeds and steps, and covers every real position', () => {
    const mask = maskOf([12, 12], 12);
    const a = new SeedStream(8);
    const b = new SeedStream(8);
    const first = selectPositions(mask, 4, a);
    expect(selectPositions(mask, 4, b)).toEqual(first);
    expect(selectPositions(mask, 4, a)).not.toEqual(first);
    expect(selectPositions(mask, 4, new SeedStream(9))).not.toEqual(first);
    const seen = new Set<number>();
    const random = new SeedStream(1);
    for (let draw = 0; draw < 60; draw++) selectPositions(mask, 3, random).flat().forEach((position) => seen.add(position));
    expect(seen.size).toBe(12);
  });

  it('selects the fewest real tokens of the batch when a sequence is shorter than k, and rejects a padded position 0', () => {
    const positions = selectPositions(maskOf([8, 3], 8), 5, new SeedStream(0));
    expect(positions.map((row) => row.length)).toEqual([3, 3]);
    expect(positions[1]).toEqual([0, 1, 2]);
    expect(() => selectPositions([[0, 1, 1]], 2, new SeedStream(0))).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('TokenSftLayerRunner', () => {
  it('selects in training only, with the seeded sequence of draws, and is the plain loop in eval', () => {
    const run = (seed: number): number[][][] => {
      const model = tinyBert();
      const tuned = peft(model, [tokenSft({ k: 3, seed })]);
      const batch = paddedBatch([8, 5], 8);
      model.train();
      const draws = [0, 1].map(() => {
        tf.tidy(() => lossOf(tuned, batch));
        return installedRunner(model).state.positions!;
      });
      model.eval();
      tf.tidy(() => lossOf(tuned, batch));
      expect(installedRunner(model).state.positions).toBeUndefined();
      tf.dispose(Object.values(batch));
      model.dispose();
      return draws;
    };
    const draws = run(4);
    expect(run(4)).toEqual(draws);
    expect(draws[1]).not.toEqual(draws[0]);
    draws.flat().forEach((row) => expect(row[0]).toBe(0));
    expect(draws.every((step) => step[1]!.every((position) => position < 5))).toBe(true);
  });
});
