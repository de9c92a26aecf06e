import { IGNORE_INDEX, createBert, disposeBatch, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import { trainWordPiece } from '../tokenizer/wordpiece-trainer';
import type { PretrainingCorpus } from './corpus';
import { collateMasked } from './mlm-batches';
import { evaluateMlm, prepareMlmData } from './mlm-data';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('prepareMlmData', () => {
  it('packs train and evaluation documents and picks the most frequent regular training token for the unigram baseline', () => {
    const texts = ['whale whale whale ship.', 'ship sea whale.', 'sea sea.'];
    const tokenizer = BenchTokenizer.fromJson(trainWordPiece(texts, { vocabSize: 40 }).tokenizerJson);
    const corpus = {
      train: [
        { id: 'a', source: 'moby-dick', sentences: texts.slice(0, 2) },
        { id: 'b', source: 'moby-dick', sentences: ['sea sea.'] },
      ],
      evaluation: [{ id: 'c', source: 'moby-dick', sentences: ['ship ship ship ship ship ship.'] }],
    } as unknown as PretrainingCorpus;
    const data = prepareMlmData(corpus, tokenizer, { sequenceLength: 8, evaluationSequences: 10 });
    // Stream: whale whale whale ship . ship sea whale . [SEP] sea sea . -> bodies of 6.
    expect(data.train.map((s) => tokenizer.decode([...s], { skipSpecialTokens: false }))).toEqual([
      '[CLS] whale whale whale ship. ship [SEP]',
      '[CLS] sea whale. [SEP] sea sea [SEP]',
      '[CLS]. [SEP]',
    ]);
    expect(data.trainTokens).toBe(8 + 8 + 3);
    expect(tokenizer.idToToken(data.unigramTokenId)).toBe('whale');
    expect(data.evaluation).toHaveLength(2);
  });
});

describe('evaluateMlm', () => {
  it('scores the model by argmax at labelled positions and the unigram baseline on the same positions', () => {
    const model = createBert({ task: 'masked-lm', vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 8 });
    const batch = collateMasked(
      [
        { inputIds: [2, 4, 7, 4, 3], labels: [IGNORE_INDEX, 9, IGNORE_INDEX, 7, IGNORE_INDEX] },
        { inputIds: [2, 4, 3], labels: [IGNORE_INDEX, 7, IGNORE_INDEX] },
      ],
      0,
    );
    const predictions = tf.tidy(() => {
      model.eval();
      return tf.argMax(model.forward(batch).logits, -1).arraySync() as number[][];
    });
    const positions: Array<[number, number, number]> = [[0, 1, 9], [0, 3, 7], [1, 1, 7]];
    const expected = positions.filter(([row, column, label]) => predictions[row]![column] === label).length / 3;
    const result = evaluateMlm(model, [batch], 7);
    expect(result.maskedTokens).toBe(3);
    expect(result.unigramAccuracy).toBeCloseTo(2 / 3, 10);
    expect(result.accuracy).toBeCloseTo(expected, 10);
    disposeBatch(batch);
    model.dispose();
  });
});
