import type { AppliedMethod } from '../method/types';
import type { TaskModel } from '../models/types';
import type { Module } from '../nn/module';
import type { TrainingTarget } from './types';

/**
 * A training target that updates every parameter of the model (full fine-tuning, the baseline
 * PEFT methods are compared against). Marks all parameters trainable.
 *
 * @example
 * await train(fullFineTuning(createBert({ task: 'sequence-classification' })), { data, learningRate: 2e-5 });
 */
export function fullFineTuning<M extends Module<any, any> & TaskModel>(model: M): TrainingTarget & { readonly model: M } {
  for (const parameter of model.parameters()) parameter.trainable = true;
  const noMethods: readonly AppliedMethod[] = [];
  return {
    model,
    trainableParameters: () => model.parameters().filter((parameter) => parameter.trainable),
    appliedMethods: () => noMethods,
  };
}
