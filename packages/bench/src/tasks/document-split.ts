import { SeedStream, invalidArgument } from '@peftjs/core';
import type { TaskSplitName } from './task';

/** Fractions of documents held out; the rest is training data. */
export interface SplitFractions {
  validation: number;
  test: number;
}

export const DEFAULT_SPLIT_FRACTIONS: SplitFractions = { validation: 0.1, test: 0.1 };

/**
 * Assigns each document to a split: ids are sorted, shuffled with a seeded Fisher-Yates shuffle
 * and cut at the given fractions (rounded, at least one test document when there are two or
 * more). The same ids and seed always give the same split, whatever order the ids come in.
 */
export function splitDocuments(
  documentIds: Iterable<string>,
  seed: number,
  fractions: SplitFractions = DEFAULT_SPLIT_FRACTIONS,
): Map<string, TaskSplitName> {
  const { validation, test } = fractions;
  if (!(validation >= 0 && test >= 0 && validation + test < 1)) {
    invalidArgument('fractions', fractions, 'validation >= 0, test >= 0, validation + test < 1');
  }
  const ids = [...new Set(documentIds)].sort();
  const stream = new SeedStream(seed);
  for (let i = ids.length - 1; i > 0; i -= 1) {
    const j = stream.nextInt(i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const testCount = ids.length >= 2 ? Math.max(1, Math.round(ids.length * test)) : 0;
  const validationCount = Math.round(ids.length * validation);
  const assignment = new Map<string, TaskSplitName>();
  ids.forEach((id, index) => {
    assignment.set(id, index < testCount ? 'test' : index < testCount + validationCount ? 'validation' : 'train');
  });
  return assignment;
}
