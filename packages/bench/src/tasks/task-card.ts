import {
  majorityBaselineAccuracy,
  majorityTagAccuracy,
  naiveBayesBaselineAccuracy,
  unigramTaggerAccuracy,
} from './baselines';
import { TASK_SPLITS, isTokenExample, type BenchTask, type TaskSplitName, type TextExample, type TokenExample } from './task';

export interface SplitCounts {
  /** Examples in the split. */
  examples: number;
  /** Distinct documents the examples come from. */
  documents: number;
  /** Examples per label (tokens per tag for token classification). */
  perLabel: Record<string, number>;
}

/** What a task is made of and how hard it is for simple baselines (scores on the test split). */
export interface TaskCard {
  name: string;
  type: BenchTask['type'];
  metric: BenchTask['metric'];
  labels: string[];
  splits: Record<TaskSplitName, SplitCounts>;
  baselines: {
    /** Always the most frequent training label (tag). */
    majority: number;
    /** Naive Bayes on word counts (classification) or the most frequent tag per word (tagging). */
    bagOfWords: number;
    bagOfWordsModel: 'multinomial-naive-bayes' | 'unigram-tagger';
  };
}

function countSplit(task: BenchTask, split: TaskSplitName): SplitCounts {
  const examples = task[split];
  const perLabel: Record<string, number> = Object.fromEntries(task.labels.map((label) => [label, 0]));
  for (const example of examples) {
    const labels = isTokenExample(example) ? example.tags : [example.label];
    for (const label of labels) perLabel[task.labels[label]!]! += 1;
  }
  return { examples: examples.length, documents: new Set(examples.map((example) => example.documentId)).size, perLabel };
}

/** Counts per split and label, plus majority and bag-of-words baseline scores on the test split. */
export function buildTaskCard(task: BenchTask): TaskCard {
  const splits = Object.fromEntries(TASK_SPLITS.map((split) => [split, countSplit(task, split)])) as Record<TaskSplitName, SplitCounts>;
  const labelCount = task.labels.length;
  const tagging = task.type === 'token-classification';
  const train = task.train;
  const test = task.test;
  const baselines = tagging
    ? {
        majority: majorityTagAccuracy(train as TokenExample[], test as TokenExample[], labelCount),
        bagOfWords: unigramTaggerAccuracy(train as TokenExample[], test as TokenExample[], labelCount),
        bagOfWordsModel: 'unigram-tagger' as const,
      }
    : {
        majority: majorityBaselineAccuracy(train as TextExample[], test as TextExample[], labelCount),
        bagOfWords: naiveBayesBaselineAccuracy(train as TextExample[], test as TextExample[], labelCount),
        bagOfWordsModel: 'multinomial-naive-bayes' as const,
      };
  return { name: task.name, type: task.type, metric: task.metric, labels: task.labels, splits, baselines };
}

/** The card as a Markdown table. */
export function formatTaskCard(card: TaskCard): string {
  const percent = (value: number) => `${(100 * value).toFixed(1)}%`;
  const lines = [
    `### ${card.name} (${card.type}, ${card.metric})`,
    '',
    `| label | ${TASK_SPLITS.join(' | ')} |`,
    `| --- | ${TASK_SPLITS.map(() => '---:').join(' | ')} |`,
    ...card.labels.map((label) => `| ${label} | ${TASK_SPLITS.map((split) => card.splits[split].perLabel[label] ?? 0).join(' | ')} |`),
    `| **examples** | ${TASK_SPLITS.map((split) => card.splits[split].examples).join(' | ')} |`,
    `| **documents** | ${TASK_SPLITS.map((split) => card.splits[split].documents).join(' | ')} |`,
    '',
    `Test ${card.metric}: majority ${percent(card.baselines.majority)}, ${card.baselines.bagOfWordsModel} ${percent(card.baselines.bagOfWords)}.`,
  ];
  return lines.join('\n');
}
