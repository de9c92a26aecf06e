import { DEFAULT_SPLIT_FRACTIONS, splitDocuments, type SplitFractions } from './document-split';
import { deduplicate } from './deduplicate';
import type { BenchTask, TaskExample, TaskSplitName } from './task';

/** Seed and held-out fractions every task builder accepts. */
export interface TaskSplitOptions {
  /** Seed of the document split (default 13). */
  seed?: number;
  fractions?: SplitFractions;
}

/** How a builder wants documents split: optionally stratified, i.e. each stratum split on its own. */
export interface AssembleOptions extends TaskSplitOptions {
  /** The stratum of a document (e.g. its label), so every split gets its share of each stratum. */
  stratumOf?: (documentId: string) => string;
}

export const DEFAULT_TASK_SEED = 13;

/**
 * Turns examples (in a deterministic order, each tagged with its document) into a task: documents
 * are split with {@link splitDocuments} (per stratum when `stratumOf` is given), then duplicates are removed across all splits, train first.
 */
export function assembleTask<T extends TaskExample>(
  header: Omit<BenchTask<T>, 'train' | 'validation' | 'test'>,
  examples: readonly T[],
  options: AssembleOptions = {},
): BenchTask<T> {
  const strata = new Map<string, string[]>();
  for (const { documentId } of examples) {
    const stratum = options.stratumOf?.(documentId) ?? '';
    const ids = strata.get(stratum) ?? [];
    ids.push(documentId);
    strata.set(stratum, ids);
  }
  const assignment = new Map<string, TaskSplitName>();
  for (const ids of strata.values()) {
    for (const [id, split] of splitDocuments(ids, options.seed ?? DEFAULT_TASK_SEED, options.fractions ?? DEFAULT_SPLIT_FRACTIONS)) {
      assignment.set(id, split);
    }
  }
  const of = (split: string) => examples.filter((example) => assignment.get(example.documentId) === split);
  const seen = new Set<string>();
  const train = deduplicate(of('train'), seen);
  const validation = deduplicate(of('validation'), seen);
  const test = deduplicate(of('test'), seen);
  return { ...header, train, validation, test };
}
