import { invalidArgument, writeFileAtomic } from '@peftjs/core';
import { PairQueue } from './pair-queue';
import { CONTINUING_SUBWORD_PREFIX, SPECIAL_TOKENS } from './special-tokens';
import { buildTokenizerJson, type WordPieceTokenizerJson } from './tokenizer-json';
import { countWords } from './word-counts';

/** Options of {@link trainWordPiece}; defaults follow `tokenizers`' WordPieceTrainer. */
export interface WordPieceTrainerOptions {
  /** Size of the final vocabulary, special tokens included (default 30000). */
  vocabSize?: number;
  /** A pair must occur at least this many times (weighted by word counts) to be merged (default 0). */
  minFrequency?: number;
  /** Keep only this many of the most frequent characters in the initial alphabet (default: all). */
  limitAlphabet?: number;
  /** Characters always kept in the alphabet, even if absent from the corpus or beyond the limit. */
  initialAlphabet?: readonly string[];
}

export interface WordPieceTrainingResult {
  /** token -> id; the special tokens hold ids 0..4. */
  vocab: Map<string, number>;
  /** The `tokenizer.json` object, loadable by `@huggingface/tokenizers` (and Python `tokenizers`). */
  tokenizerJson: WordPieceTokenizerJson;
}

/** Pairs of ids are packed into one number: ids stay below 2^26, so the key is an exact integer. */
const ID_LIMIT = 2 ** 26;
const pairKey = (left: number, right: number): number => left * ID_LIMIT + right;

interface TrainingWord {
  symbols: number[];
  count: number;
}

/**
 * Trains a BERT-style WordPiece vocabulary on texts. Words come from BERT normalization and
 * pre-tokenization ({@link countWords}); the vocabulary is then grown the way `tokenizers`'
 * WordPieceTrainer does it, which is its BPE trainer with a `##` continuing-subword prefix:
 * special tokens first (ids 0..4), then the alphabet (limited to the most frequent characters,
 * sorted by code point), then `##c` for characters seen inside words, then merges of the most
 * frequent adjacent pair (`a` + `##b` -> `ab`) until the vocabulary is full or no pair reaches
 * `minFrequency`. Ties are broken deterministically (smaller pair of ids first; words in sorted order).
 *
 * @example
 * const { tokenizerJson } = trainWordPiece(['The whale swam.', 'A whale sang.'], { vocabSize: 100 });
 * const tokenizer = BenchTokenizer.fromJson(tokenizerJson);
 */
export function trainWordPiece(texts: Iterable<string>, options: WordPieceTrainerOptions = {}): WordPieceTrainingResult {
  return trainWordPieceFromCounts(countWords(texts), options);
}

/** Trains from precomputed word counts (words already normalized and pre-tokenized). */
export function trainWordPieceFromCounts(
  wordCounts: ReadonlyMap<string, number>,
  options: WordPieceTrainerOptions = {},
): WordPieceTrainingResult {
  const vocabSize = options.vocabSize ?? 30000;
  const minFrequency = options.minFrequency ?? 0;
  if (!Number.isInteger(vocabSize) || vocabSize < SPECIAL_TOKENS.length || vocabSize >= ID_LIMIT) {
    invalidArgument('vocabSize', vocabSize, `an integer in [${SPECIAL_TOKENS.length}, ${ID_LIMIT})`);
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 0) invalidArgument('minFrequency', minFrequency, 'an integer >= 0');
  if (options.limitAlphabet !== undefined && (!Number.isInteger(options.limitAlphabet) || options.limitAlphabet < 0)) {
    invalidArgument('limitAlphabet', options.limitAlphabet, 'an integer >= 0');
  }

  const tokenToId = new Map<string, number>();
  const idToToken: string[] = [];
  const add = (token: string): number => {
    const known = tokenToId.get(token);
    if (known !== undefined) return known;
    tokenToId.set(token, idToToken.length);
    idToToken.push(token);
    return idToToken.length - 1;
  };
  for (const token of SPECIAL_TOKENS) add(token);
  for (const character of computeAlphabet(wordCounts, options)) add(character);

  const words = splitIntoSymbols(wordCounts, tokenToId, add);
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  words.forEach((word, index) => countPairs(word, index, 1, pairCounts, pairWords));

  const queue = new PairQueue();
  for (const [key, count] of pairCounts) {
    if (count > 0) queue.push({ left: Math.floor(key / ID_LIMIT), right: key % ID_LIMIT, count });
  }

  while (tokenToId.size < vocabSize) {
    const top = queue.pop();
    if (top === undefined) break;
    const key = pairKey(top.left, top.right);
    const current = pairCounts.get(key) ?? 0;
    if (current !== top.count) {
      // A stale entry: the pair's count changed since it was queued; requeue it at its true count.
      if (current > 0) queue.push({ ...top, count: current });
      continue;
    }
    if (current < 1 || current < minFrequency) break;
    const right = idToToken[top.right]!;
    const merged = idToToken[top.left]! + (right.startsWith(CONTINUING_SUBWORD_PREFIX) ? right.slice(CONTINUING_SUBWORD_PREFIX.length) : right);
    const mergedId = add(merged);

    const before = new Map<number, number>();
    for (const index of [...(pairWords.get(key) ?? [])].sort((a, b) => a - b)) {
      const word = words[index]!;
      const symbols = mergeSymbols(word.symbols, top.left, top.right, mergedId);
      if (symbols === null) continue;
      recordCounts(word, pairCounts, before);
      countPairs(word, index, -1, pairCounts, pairWords);
      word.symbols = symbols;
      recordCounts(word, pairCounts, before);
      countPairs(word, index, 1, pairCounts, pairWords);
    }
    pairWords.delete(key);
    for (const [changedKey, previous] of [...before].sort((a, b) => a[0] - b[0])) {
      const count = pairCounts.get(changedKey) ?? 0;
      if (count > previous) queue.push({ left: Math.floor(changedKey / ID_LIMIT), right: changedKey % ID_LIMIT, count });
    }
  }

  return { vocab: tokenToId, tokenizerJson: buildTokenizerJson(tokenToId) };
}

/** Writes a `tokenizer.json` atomically (2-space indented, like `tokenizers` saves it). */
export async function saveTokenizerJson(path: string, tokenizerJson: WordPieceTokenizerJson): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(tokenizerJson, null, 2)}\n`);
}

/**
 * The initial alphabet: every character weighted by the counts of the words it occurs in, reduced
 * to the `limitAlphabet` most frequent (equal counts: the smaller code point is kept), then sorted
 * by code point. Characters of `initialAlphabet` are always kept.
 */
function computeAlphabet(wordCounts: ReadonlyMap<string, number>, options: WordPieceTrainerOptions): string[] {
  const counts = new Map<string, number>();
  for (const [word, count] of wordCounts) {
    for (const character of word) counts.set(character, (counts.get(character) ?? 0) + count);
  }
  for (const character of options.initialAlphabet ?? []) counts.set(character, Number.POSITIVE_INFINITY);
  let kept = [...counts];
  const limit = options.limitAlphabet;
  if (limit !== undefined && kept.length > limit) {
    kept.sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!);
    kept = kept.slice(0, limit);
  }
  return kept.map(([character]) => character).sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

/**
 * Splits each word into its characters' ids: the first as itself, the rest as `##c`. Characters
 * outside the alphabet are dropped, as in `tokenizers`. Words are visited in sorted order so the
 * ids of new `##c` tokens do not depend on the corpus order.
 */
function splitIntoSymbols(
  wordCounts: ReadonlyMap<string, number>,
  tokenToId: ReadonlyMap<string, number>,
  add: (token: string) => number,
): TrainingWord[] {
  const words: TrainingWord[] = [];
  for (const word of [...wordCounts.keys()].sort()) {
    const symbols: number[] = [];
    let position = 0;
    for (const character of word) {
      if (tokenToId.has(character)) symbols.push(add(position === 0 ? character : CONTINUING_SUBWORD_PREFIX + character));
      position += 1;
    }
    if (symbols.length > 0) words.push({ symbols, count: wordCounts.get(word)! });
  }
  return words;
}

function countPairs(
  word: TrainingWord,
  index: number,
  sign: 1 | -1,
  pairCounts: Map<number, number>,
  pairWords: Map<number, Set<number>>,
): void {
  const { symbols, count } = word;
  for (let i = 0; i + 1 < symbols.length; i += 1) {
    const key = pairKey(symbols[i]!, symbols[i + 1]!);
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * count);
    if (sign > 0) {
      let holders = pairWords.get(key);
      if (holders === undefined) pairWords.set(key, (holders = new Set()));
      holders.add(index);
    }
  }
}

/** Remembers each pair's count before this merge touched it, to find the pairs whose count grew. */
function recordCounts(word: TrainingWord, pairCounts: ReadonlyMap<number, number>, before: Map<number, number>): void {
  for (let i = 0; i + 1 < word.symbols.length; i += 1) {
    const key = pairKey(word.symbols[i]!, word.symbols[i + 1]!);
    if (!before.has(key)) before.set(key, pairCounts.get(key) ?? 0);
  }
}

/** Replaces non-overlapping occurrences of (left, right), scanning left to right; null if none. */
function mergeSymbols(symbols: readonly number[], left: number, right: number, merged: number): number[] | null {
  const out: number[] = [];
  let changed = false;
  for (let i = 0; i < symbols.length; i += 1) {
    if (symbols[i] === left && symbols[i + 1] === right && i + 1 < symbols.length) {
      out.push(merged);
      changed = true;
      i += 1;
    } else {
      out.push(symbols[i]!);
    }
  }
  return changed ? out : null;
}
