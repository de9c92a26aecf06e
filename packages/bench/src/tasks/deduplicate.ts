import { isTokenExample, type TaskExample } from './task';

/** Text compared for duplicates: lowercase, every run of non letters/digits as one space. */
export function normalizeForDeduplication(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/** The key two examples share exactly when they are duplicates (label not included: same text, two labels, is one). */
export function deduplicationKey(example: TaskExample): string {
  if (isTokenExample(example)) return normalizeForDeduplication(example.tokens.join(' '));
  const first = normalizeForDeduplication(example.text);
  return example.textPair === undefined ? first : `${first}\u0000${normalizeForDeduplication(example.textPair)}`;
}

/**
 * Keeps the first of each group of duplicates, in order. Callers pass train, then validation,
 * then test, so a held-out example never repeats a training one.
 */
export function deduplicate<T extends TaskExample>(examples: readonly T[], seen = new Set<string>()): T[] {
  const kept: T[] = [];
  for (const example of examples) {
    const key = deduplicationKey(example);
    if (key.length === 0 || seen.has(key)) continue;
    seen.add(key);
    kept.push(example);
  }
  return kept;
}
