/** The kinds of downstream task the bench fine-tunes on (the heads of `@peftjs/core`'s TaskModel). */
export type BenchTaskType = 'sequence-classification' | 'sentence-pair' | 'token-classification' | 'regression';

/** One example of a (single sentence or sentence pair) classification task. `label` indexes `task.labels`. */
export interface TextExample {
  /** The corpus document it was cut from: splits never share a document. */
  documentId: string;
  text: string;
  textPair?: string;
  label: number;
}

/** One example of a token classification task: a tag (index into `task.labels`) per word. */
export interface TokenExample {
  documentId: string;
  tokens: string[];
  tags: number[];
}

export type TaskExample = TextExample | TokenExample;

export type TaskSplitName = 'train' | 'validation' | 'test';
export const TASK_SPLITS: readonly TaskSplitName[] = ['train', 'validation', 'test'];

/**
 * A task: its labels and train/validation/test examples, split by document with a seeded split,
 * duplicates (by normalized text) removed. `metric` is what the task card and the bench report.
 */
export interface BenchTask<TExample extends TaskExample = TaskExample> {
  name: string;
  description: string;
  type: BenchTaskType;
  metric: 'accuracy';
  labels: string[];
  train: TExample[];
  validation: TExample[];
  test: TExample[];
}

export type TextTask = BenchTask<TextExample>;
export type TokenTask = BenchTask<TokenExample>;

export function isTokenExample(example: TaskExample): example is TokenExample {
  return 'tokens' in example;
}
