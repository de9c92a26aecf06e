import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { PeftError } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { loadMobyDick } from '../corpora/moby-dick';
import { BenchTokenizer } from './bench-tokenizer';
import { saveTokenizerJson, trainWordPiece, trainWordPieceFromCounts } from './wordpiece-trainer';

const vocabOf = (texts: string[], options: Parameters<typeof trainWordPiece>[1]) =>
  Object.fromEntries(trainWordPiece(texts, options).vocab);

describe('trainWordPiece on hand-computed corpora', () => {
  // Words: ab x3, ac x1. Alphabet a(4) b(3) c(1) -> ids 5,6,7; then ##b 8, ##c 9 (words in sorted order);
  // pairs (a,##b)=3, (a,##c)=1 -> merges "ab" then "ac".
  const texts = ['AB ab', 'ab ac'];
  const specials = { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4 };

  it('adds specials, alphabet, ##-continuations, then merges by count', () => {
    expect(vocabOf(texts, { vocabSize: 12 })).toEqual({ ...specials, a: 5, b: 6, c: 7, '##b': 8, '##c': 9, ab: 10, ac: 11 });
  });

  it('stops at vocabSize and at minFrequency', () => {
    expect(vocabOf(texts, { vocabSize: 11 })).toEqual({ ...specials, a: 5, b: 6, c: 7, '##b': 8, '##c': 9, ab: 10 });
    expect(vocabOf(texts, { vocabSize: 100, minFrequency: 2 })).toEqual({ ...specials, a: 5, b: 6, c: 7, '##b': 8, '##c': 9, ab: 10 });
  });

  it('limitAlphabet keeps the most frequent characters and drops the rest from words', () => {
    expect(vocabOf(texts, { vocabSize: 100, limitAlphabet: 2 })).toEqual({ ...specials, a: 5, b: 6, '##b': 7, ab: 8 });
  });

  it('merges continuation pairs into ## tokens', () => {
    // abc x3, xbc x3: a5 b6 c7 x8, ##b 9, ##c 10; (##b,##c)=6 beats (a,##b)=3 and (x,##b)=3 -> "##bc".
    const counts = new Map([['abc', 3], ['xbc', 3]]);
    const vocab = Object.fromEntries(trainWordPieceFromCounts(counts, { vocabSize: 14 }).vocab);
    expect(vocab).toMatchObject({ '##b': 9, '##c': 10, '##bc': 11, abc: 12, xbc: 13 });
  });

  it('breaks count ties by the smaller pair of ids', () => {
    // abc x2, xyz x2: a5 b6 c7 x8 y9 z10, ##b 11 ##c 12 ##y 13 ##z 14; all four pairs count 2.
    // Order: (5,11) ab, (8,13) xy, (15,12) abc, (16,14) xyz.
    const counts = new Map([['xyz', 2], ['abc', 2]]);
    const vocab = Object.fromEntries(trainWordPieceFromCounts(counts, { vocabSize: 19 }).vocab);
    expect(vocab).toMatchObject({ ab: 15, xy: 16, abc: 17, xyz: 18 });
    expect(Object.keys(vocab)).toHaveLength(19);
  });

  it('rejects bad options with PeftError', () => {
    expect(() => trainWordPiece(texts, { vocabSize: 3 })).toThrowError(PeftError);
    expect(() => trainWordPiece(texts, { minFrequency: -1 })).toThrowError(/minFrequency/);
  });
});

/** Greedy longest-match-first WordPiece (Wu et al., "Google's Neural Machine Translation System", 2016, sec. 4.1), written independently. */
function referenceWordPiece(word: string, vocab: Record<string, number>): number[] {
  const chars = [...word];
  const ids: number[] = [];
  for (let start = 0; start < chars.length; ) {
    let end = chars.length;
    let id: number | undefined;
    for (; end > start; end -= 1) {
      id = vocab[(start > 0 ? '##' : '') + chars.slice(start, end).join('')];
      if (id !== undefined) break;
    }
    if (id === undefined) return [1];
    ids.push(id);
    start = end;
  }
  return ids;
}

describe('trained tokenizer loaded by @huggingface/tokenizers', () => {
  const chapters = loadMobyDick();
  const trainingTexts = chapters.slice(0, 6).map((chapter) => chapter.text);
  const heldOut = chapters.slice(40, 42).flatMap((chapter) => chapter.sentences).slice(0, 60);
  const { tokenizerJson, vocab } = trainWordPiece(trainingTexts, { vocabSize: 600, limitAlphabet: 80 });
  const tokenizer = BenchTokenizer.fromJson(tokenizerJson);

  it('gives the special tokens ids 0..4 and reports the vocabulary size', () => {
    expect(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((token) => tokenizer.tokenToId(token))).toEqual([0, 1, 2, 3, 4]);
    expect(tokenizer.vocabSize).toBe(600);
    expect(vocab.size).toBe(600);
  });

  it('matches an independent greedy WordPiece on held-out ASCII text', () => {
    const vocabObject = tokenizerJson.model.vocab;
    let compared = 0;
    for (const sentence of heldOut) {
      if (!/^[\x20-\x7e]*$/u.test(sentence)) continue;
      const words = sentence.toLowerCase().match(/[a-z0-9]+|[^\sa-z0-9]/gu) ?? [];
      expect(tokenizer.tokenIds(sentence)).toEqual(words.flatMap((word) => referenceWordPiece(word, vocabObject)));
      compared += 1;
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('round-trips in-vocabulary words to the normalized text', () => {
    const words = Object.keys(tokenizerJson.model.vocab).filter((token) => /^[a-z]{3,}$/u.test(token)).slice(0, 12);
    const text = words.map((word) => word.toUpperCase().replace('E', 'É')).join(' ');
    const { inputIds } = tokenizer.encode(text);
    expect(inputIds.slice(1, -1).every((id) => id !== 1)).toBe(true);
    expect(tokenizer.decode(inputIds)).toBe(words.join(' '));
  });

  it('maps words with unknown characters to [UNK]', () => {
    expect(tokenizer.tokenIds('the ☃ wh☃le')).toEqual([...referenceWordPiece('the', tokenizerJson.model.vocab), 1, 1]);
  });

  it('encodes pairs with [CLS]/[SEP], type ids, truncation and padding like the written template', () => {
    const [first, second] = ['Call me Ishmael.', 'The whale swam away.'];
    const encoding = tokenizer.encode(first, { textPair: second });
    const a = tokenizer.tokenIds(first);
    const b = tokenizer.tokenIds(second);
    expect(encoding.inputIds).toEqual([2, ...a, 3, ...b, 3]);
    expect(encoding.tokenTypeIds).toEqual([0, ...a.map(() => 0), 0, ...b.map(() => 1), 1]);
    const reference = new Tokenizer(tokenizerJson, {}).encode(first, { text_pair: second, return_token_type_ids: true });
    expect(encoding.inputIds).toEqual(reference.ids);
    expect(encoding.tokenTypeIds).toEqual(reference.token_type_ids);

    const padded = tokenizer.encode(first, { maxLength: a.length + 6 });
    expect(padded.inputIds).toEqual([2, ...a, 3, 0, 0, 0, 0]);
    expect(padded.attentionMask).toEqual([1, ...a.map(() => 1), 1, 0, 0, 0, 0]);
    const truncated = tokenizer.encode(first, { textPair: second, maxLength: 7 });
    // Budget 4 pieces: longest first -> 2 + 2 when both are longer than 2.
    expect(truncated.inputIds).toEqual([2, ...a.slice(0, 2), 3, ...b.slice(0, 2), 3]);
    expect(() => tokenizer.encode(first, { textPair: second, maxLength: 2 })).toThrowError(/maxLength/);
  });

  it('is deterministic: same file twice, and independent of the order of the texts', async () => {
    const again = trainWordPiece(trainingTexts, { vocabSize: 600, limitAlphabet: 80 }).tokenizerJson;
    const reversed = trainWordPiece([...trainingTexts].reverse(), { vocabSize: 600, limitAlphabet: 80 }).tokenizerJson;
    expect(JSON.stringify(again)).toBe(JSON.stringify(tokenizerJson));
    expect(JSON.stringify(reversed)).toBe(JSON.stringify(tokenizerJson));

    const directory = await mkdtemp(join(tmpdir(), 'peftjs-tokenizer-'));
    try {
      const path = join(directory, 'tokenizer.json');
      await saveTokenizerJson(path, tokenizerJson);
      expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(tokenizerJson);
      const loaded = await BenchTokenizer.fromFile(path);
      expect(loaded.encode(heldOut[0]!, { maxLength: 32 })).toEqual(tokenizer.encode(heldOut[0]!, { maxLength: 32 }));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
