import { PeftError } from '@peftjs/core';
import { buildBrownPosTask } from '../tasks/brown-pos-task';
import { buildSentenceOrderTask } from '../tasks/sentence-order-task';
import { selectEvenly } from '../tasks/select-evenly';
import { buildSotuEraTask } from '../tasks/sotu-era-task';
import type { BenchTask } from '../tasks/task';
import { buildWordNetCategoryTask } from '../tasks/wordnet-category-task';

/** A task the bench can build by name. */
export interface TaskEntry {
  name: string;
  summary: string;
  build(options?: { seed?: number }): BenchTask;
}

/** The built-in tasks, by the name `--task` takes. */
export const BENCH_TASKS: readonly TaskEntry[] = [
  { name: 'sotu-era', summary: 'era of two consecutive sentences of a State of the Union address (5 classes)', build: (o) => buildSotuEraTask(o) },
  { name: 'wordnet-category', summary: 'lexicographer category of a WordNet noun definition (8 classes)', build: (o) => buildWordNetCategoryTask(o) },
  { name: 'sentence-order', summary: 'are two consecutive sentences in order or swapped (sentence pair, 2 classes)', build: (o) => buildSentenceOrderTask(o) },
  { name: 'brown-pos', summary: 'universal part-of-speech tag of each word of a Brown sentence (token classification, 12 tags)', build: (o) => buildBrownPosTask(o) },
];

export function taskNames(): string[] {
  return BENCH_TASKS.map((task) => task.name);
}

/** The task of that name; unknown names are an error listing the built-in ones (`field` names the option). */
export function findTask(name: string, field = 'task'): TaskEntry {
  const entry = BENCH_TASKS.find((task) => task.name === name);
  if (entry) return entry;
  throw new PeftError('invalid-argument', `Invalid ${field}: got ${JSON.stringify(name)}; allowed: ${taskNames().join(', ')} (or --data <file.tsv|jsonl> for your own).`, {
    field,
    value: name,
    allowed: taskNames(),
  });
}

/**
 * A smaller task: at most `limits` examples per split, picked evenly across the split (examples
 * come grouped by document, so the first N would cover few documents and labels).
 */
export function subsetTask<T extends BenchTask>(task: T, limits: { train?: number; validation?: number; test?: number }): T {
  const pick = <E>(examples: E[], limit: number | undefined): E[] => (limit === undefined || examples.length <= limit ? examples : selectEvenly(examples, limit));
  return { ...task, train: pick(task.train, limits.train), validation: pick(task.validation, limits.validation), test: pick(task.test, limits.test) };
}
