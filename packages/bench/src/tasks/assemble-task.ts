import { DEFAULT_SPLIT_FRACTIONS, splitDocuments, type SplitFractions } from './document-split';
import { deduplicate } from './deduplicate';
import type { BenchTask, TaskExample } from './task';

/** Seed and held-out fractions every task builder accepts. */
export interface TaskSplitOptions {
  /** Seed of the document split (default 13). */
  seed?: number;
  fractions?: SplitFractions;
}

export const DEFAULT_TASK_SEED = 13;

/**
 * Turns examples (in a deterministic order, each tagged with its document) into a task: documents
 * are split with {@link splitDocuments}, then duplicates are removed across all splits, train first.
 */
export function assembleTask<T extends TaskExample>(
  header: Omit<BenchTask<T>, 'train' | 'validation' | 'test'>,
  examples: readonly T[],
  options: TaskSplitOptions = {},
): BenchTask<T> {
  const assignment = splitDocuments(
    examples.map((example) => example.documentId),
    options.seed ?? DEFAULT_TASK_SEED,
    options.fractions ?? DEFAULT_SPLIT_FRACTIONS,
  );
  const of = (split: string) => examples.filter((example) => assignment.get(example.documentId) === split);
  const seen = new Set<string>();
  const train = deduplicate(of('train'), seen);
  const validation = deduplicate(of('validation'), seen);
  const test = deduplicate(of('test'), seen);
  return { ...header, train, validation, test };
}
