import type { TaskModel } from '../models/types';

interface ModeSwitchable {
  training?: boolean;
  train?(mode?: boolean): unknown;
}

/** Switches a model's training mode (dropout on/off) when it has one; returns the mode it had before. */
export function setTrainingMode(model: TaskModel, training: boolean): boolean | undefined {
  const switchable = model as TaskModel & ModeSwitchable;
  const previous = switchable.training;
  if (typeof switchable.train === 'function') switchable.train(training);
  return previous;
}
