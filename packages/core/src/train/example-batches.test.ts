import { beforeAll, describe, expect, it } from 'vitest';
import { values } from '../models/test-support';
import { tf } from '../nn/tf';
import { SeedStream } from '../util/random';
import { batchExamples, collateExamples, disposeBatch, exampleBatches } from './example-batches';
import { shuffledIndices } from './shuffle';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('collateExamples', () => {
  it('pads on the right with the pad id and builds the attention mask', () => {
    const batch = collateExamples([{ inputIds: [5, 6, 7], labels: 1 }, { inputIds: [8], labels: 0 }], { padId: 3 });
    expect(batch.inputIds.shape).toEqual([2, 3]);
    expect(batch.inputIds.dtype).toBe('int32');
    expect(values(batch.inputIds)).toEqual([5, 6, 7, 8, 3, 3]);
    expect(values(batch.attentionMask!)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(batch.labels!.dtype).toBe('int32');
    expect(values(batch.labels!)).toEqual([1, 0]);
    expect(batch.tokenTypeIds).toBeUndefined();
    disposeBatch(batch);
  });

  it('pads token labels with -100, keeps float targets float, and truncates', () => {
    const tokens = collateExamples([{ inputIds: [1, 2], labels: [4, 5], tokenTypeIds: [0, 1] }, { inputIds: [3], labels: [6] }]);
    expect(values(tokens.labels!)).toEqual([4, 5, 6, -100]);
    expect(values(tokens.tokenTypeIds!)).toEqual([0, 1, 0, 0]);
    const regression = collateExamples([{ inputIds: [1, 2, 3], labels: 0.5 }, { inputIds: [1], labels: 2 }], { maxLength: 2 });
    expect(regression.labels!.dtype).toBe('float32');
    expect(regression.inputIds.shape).toEqual([2, 2]);
    for (const b of [tokens, regression]) disposeBatch(b);
    expect(() => collateExamples([{ inputIds: [1, 2], labels: [1] }])).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('example batches', () => {
  const examples = Array.from({ length: 5 }, (_, i) => ({ inputIds: [10 + i], labels: i % 2 }));
  const firstTokens = (batches: Iterable<{ inputIds: tf.Tensor }>) => [...batches].map((b) => values(b.inputIds).map((id) => id - 10));

  it('batches in order for evaluation, keeping a smaller last batch unless dropLast', () => {
    expect(firstTokens(batchExamples(examples, { batchSize: 2 }))).toEqual([[0, 1], [2, 3], [4]]);
    expect(firstTokens(batchExamples(examples, { batchSize: 2, dropLast: true }))).toEqual([[0, 1], [2, 3]]);
  });

  it('shuffles per epoch, reproducibly from the seed, covering every example once', () => {
    const data = exampleBatches(examples, { batchSize: 2, seed: 7 });
    const epoch0 = firstTokens(data(0)).flat();
    expect([...epoch0].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(firstTokens(exampleBatches(examples, { batchSize: 2, seed: 7 })(0)).flat()).toEqual(epoch0);
    const orders = new Set([0, 1, 2, 3].map((epoch) => firstTokens(data(epoch)).flat().join(',')));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('shuffledIndices is a permutation determined by the stream', () => {
    const a = shuffledIndices(10, new SeedStream(3));
    expect([...a].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffledIndices(10, new SeedStream(3))).toEqual(a);
    expect(shuffledIndices(10, new SeedStream(4))).not.toEqual(a);
  });
});
