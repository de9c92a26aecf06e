import { IGNORE_INDEX, SeedStream, disposeBatch, tf, type Batch } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { collateMasked, maskSequence, maskedEvaluationBatches, mlmBatches, packSequences, resolveMasking } from './mlm-batches';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const SPECIALS = [0, 1, 2, 3, 4];
const MASK = 4;
const VOCAB = 1000;
const masking = resolveMasking({ vocabSize: VOCAB, maskId: MASK, specialIds: SPECIALS });

/** A sequence [CLS] w… [SEP] [PAD]… with regular tokens drawn from the stream. */
function sampleSequence(stream: SeedStream, length: number): number[] {
  const ids = [2];
  for (let i = 0; i < length - 4; i += 1) ids.push(5 + stream.nextInt(VOCAB - 5));
  ids.push(3, 0, 0);
  return ids;
}

describe('maskSequence', () => {
  const stream = new SeedStream(7);
  const originals = Array.from({ length: 400 }, () => sampleSequence(stream, 104));
  const masked = originals.map((ids) => maskSequence(ids, stream, masking));

  it('selects ~15% of regular tokens: 80% [MASK], 10% random, 10% kept', () => {
    let regular = 0;
    let selected = 0;
    let maskTokens = 0;
    let kept = 0;
    let replaced = 0;
    originals.forEach((ids, row) => {
      ids.forEach((id, i) => {
        if (SPECIALS.includes(id)) return;
        regular += 1;
        const label = masked[row]!.labels[i]!;
        const input = masked[row]!.inputIds[i]!;
        if (label === IGNORE_INDEX) {
          expect(input).toBe(id);
          return;
        }
        selected += 1;
        if (input === MASK) maskTokens += 1;
        else if (input === id) kept += 1;
        else replaced += 1;
      });
    });
    // 40,000 regular tokens: the std of the selection rate is 0.0018; of each share ~0.007 (6,000 selected).
    expect(selected / regular).toBeCloseTo(0.15, 1);
    expect(Math.abs(selected / regular - 0.15)).toBeLessThan(0.01);
    expect(Math.abs(maskTokens / selected - 0.8)).toBeLessThan(0.03);
    expect(Math.abs(replaced / selected - 0.1)).toBeLessThan(0.025);
    expect(Math.abs(kept / selected - 0.1)).toBeLessThan(0.025);
  });

  it('never selects special tokens and labels hold the original id exactly where selected', () => {
    originals.forEach((ids, row) => {
      const { inputIds, labels } = masked[row]!;
      expect(inputIds).toHaveLength(ids.length);
      ids.forEach((id, i) => {
        if (SPECIALS.includes(id)) {
          expect(labels[i]).toBe(IGNORE_INDEX);
          expect(inputIds[i]).toBe(id);
        } else if (labels[i] !== IGNORE_INDEX) {
          expect(labels[i]).toBe(id);
        }
      });
    });
  });

  it('draws random replacements from regular tokens only', () => {
    for (const { inputIds, labels } of masked) {
      inputIds.forEach((id, i) => {
        if (labels[i] !== IGNORE_INDEX && id !== MASK) expect(id).toBeGreaterThanOrEqual(5);
      });
    }
  });

  it('is deterministic for a seed and selects at least one token of a short sequence', () => {
    const ids = [2, 10, 11, 3];
    const a = maskSequence(ids, new SeedStream(3), masking);
    const b = maskSequence(ids, new SeedStream(3), masking);
    expect(a).toEqual(b);
    for (let seed = 0; seed < 50; seed += 1) {
      const { labels } = maskSequence(ids, new SeedStream(seed), masking);
      expect(labels.filter((label) => label !== IGNORE_INDEX).length).toBeGreaterThanOrEqual(1);
    }
    expect(maskSequence([2, 3, 0], new SeedStream(1), masking).labels).toEqual([IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]);
  });
});

describe('packSequences', () => {
  it('packs across sentences and documents with [SEP] between documents, at most `length` tokens', () => {
    const documents = [[[10, 11], [12]], [[13, 14, 15, 16]], [[17]]];
    const sequences = packSequences(documents, { length: 6, clsId: 2, sepId: 3 }).map((s) => [...s]);
    // Bodies of 4: 10 11 12 SEP | 13 14 15 16 | 17 (a document that starts a sequence needs no separator).
    expect(sequences).toEqual([
      [2, 10, 11, 12, 3, 3],
      [2, 13, 14, 15, 16, 3],
      [2, 17, 3],
    ]);
  });
});

describe('batches', () => {
  const stream = new SeedStream(11);
  const sequences = Array.from({ length: 10 }, (_, i) => Int32Array.from(sampleSequence(stream, 8 + (i % 3))));
  const options = { batchSize: 4, seed: 5, padId: 0, vocabSize: VOCAB, maskId: MASK, specialIds: SPECIALS };

  it('collates right-padded with mask 0 and labels −100 on padding', () => {
    const batch = collateMasked(
      [
        { inputIds: [2, 4, 3], labels: [IGNORE_INDEX, 9, IGNORE_INDEX] },
        { inputIds: [2, 3], labels: [IGNORE_INDEX, IGNORE_INDEX] },
      ],
      0,
    );
    expect(batch.inputIds.arraySync()).toEqual([[2, 4, 3], [2, 3, 0]]);
    expect(batch.attentionMask!.arraySync()).toEqual([[1, 1, 1], [1, 1, 0]]);
    expect(batch.labels!.arraySync()).toEqual([[IGNORE_INDEX, 9, IGNORE_INDEX], [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]);
    disposeBatch(batch);
  });

  const read = (batches: Iterable<Batch>) =>
    [...batches].map((batch) => {
      const value = { inputIds: batch.inputIds.arraySync() as number[][], labels: batch.labels!.arraySync() as number[][] };
      disposeBatch(batch);
      return value;
    });

  it('yields every sequence once per epoch, the same for the same seed and epoch, re-masked in another epoch', () => {
    const data = mlmBatches(sequences, options);
    const first = read(data(0));
    expect(first.map((batch) => batch.inputIds.length)).toEqual([4, 4, 2]);
    expect(read(mlmBatches(sequences, options)(0))).toEqual(first);
    const second = read(data(1));
    expect(second).not.toEqual(first);
    const unmask = (batch: { inputIds: number[][]; labels: number[][] }) =>
      batch.inputIds.map((row, r) => row.map((id, i) => (batch.labels[r]![i] === IGNORE_INDEX ? id : batch.labels[r]![i]!)).filter((id) => id !== 0).join(','));
    const originals = sequences.map((s) => [...s].filter((id) => id !== 0).join(',')).sort();
    expect(first.flatMap(unmask).sort()).toEqual(originals);
    expect(second.flatMap(unmask).sort()).toEqual(originals);
  });

  it('makes a fixed, ordered evaluation set', () => {
    const a = read(maskedEvaluationBatches(sequences, options));
    expect(read(maskedEvaluationBatches(sequences, options))).toEqual(a);
    expect(a.flatMap((batch) => batch.inputIds)).toHaveLength(10);
  });
});
