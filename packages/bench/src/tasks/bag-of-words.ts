import type { TextExample } from './task';

/** Lowercased word tokens of a text (letters, digits, inner apostrophes). */
export function bagOfWordsTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}]+)*/gu) ?? [];
}

/**
 * Features of an example for the bag-of-words baseline. For a pair, words of the second text are
 * marked (`b:word`) so the model can tell the two sides apart.
 */
export function bagOfWordsFeatures(example: Pick<TextExample, 'text' | 'textPair'>): string[] {
  const first = bagOfWordsTokens(example.text);
  if (example.textPair === undefined) return first;
  return [...first.map((word) => `a:${word}`), ...bagOfWordsTokens(example.textPair).map((word) => `b:${word}`)];
}
