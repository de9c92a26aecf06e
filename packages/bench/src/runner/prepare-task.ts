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

export async function prepareTask(task: BenchTask, provider: BackboneProvider): Promise<PreparedTask> {
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
