import { SeedStream, peft, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { positionSlots, selectPositions } from './layer-runner';
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

  it('selects min(k, real tokens) per sequence: a short sequence selects all of its tokens and caps no other row', () => {
    const lengths = [8, 3, 6, 1];
    const random = new SeedStream(0);
    for (let draw = 0; draw < 20; draw++) {
      const positions = selectPositions(maskOf(lengths, 8), 5, random);
      expect(positions.map((row) => row.length)).toEqual([5, 3, 5, 1]);
      expect(positions[1]).toEqual([0, 1, 2]);
      expect(positions[3]).toEqual([0]);
      positions.forEach((row, b) => expect(row.every((position) => position < lengths[b]!)).toBe(true));
    }
    expect(() => selectPositions([[0, 1, 1]], 2, new SeedStream(0))).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('positionSlots', () => {
  it('pads each row to the widest selection with distinct padding positions of its own sequence, flagged as filler', () => {
    const mask = maskOf([8, 3, 5], 8);
    const { slots, selected } = positionSlots([[0, 2, 5, 7], [0, 1, 2], [0, 1, 3, 4]], mask);
    expect(slots).toEqual([[0, 2, 5, 7], [0, 1, 2, 3], [0, 1, 3, 4]]);
    expect(selected).toEqual([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]]);
    const short = positionSlots([[0, 4], [0]], maskOf([6, 1], 6));
    expect(short.slots).toEqual([[0, 4], [0, 1]]);
    expect(short.selected).toEqual([[1, 1], [1, 0]]);
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
