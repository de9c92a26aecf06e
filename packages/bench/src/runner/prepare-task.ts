import { invalidArgument } from '@peftjs/core';
import type { BenchTask } from '../tasks/task';
import type { BackboneProvider, PreparedBackbone } from './backbone';
import { modelTaskOf, tokenizeTask, type TokenizedTask } from './tokenize-task';

/** A task with its backbone prepared and its splits tokenized: what every run of a comparison shares. */
export interface PreparedTask {
  task: BenchTask;
  backbone: PreparedBackbone;
  examples: TokenizedTask;
  /** Head the models get. */
  modelTask: ReturnType<typeof modelTaskOf>;
  numLabels: number;
}

/** Prepares the backbone for the task and tokenizes its splits; a task without train or test examples is an error. */
export async function prepareTask(task: BenchTask, provider: BackboneProvider): Promise<PreparedTask> {
  if (task.train.length === 0 || task.test.length === 0) {
    invalidArgument(`task "${task.name}"`, { train: task.train.length, validation: task.validation.length, test: task.test.length }, 'at least one train and one test example (the split is 80/10/10 by document: give more rows)');
  }
  const backbone = await provider.prepare(task);
  const modelTask = modelTaskOf(task);
  return {
    task,
    backbone,
    examples: tokenizeTask(task, backbone.tokenizer, backbone.maxLength),
    modelTask,
    numLabels: modelTask === 'regression' ? 1 : task.labels.length,
  };
}
