import { PeftError, fromSelection, resolveTargets, type AppliedMethod, type Module, type TargetSelector } from '@peftjs/core';

/**
 * Trains the modules under `selector` (typically the task head, `{ roles: ['head'] }`) in full beside
 * a prompt method, as HF PEFT's `modules_to_save` does: PeftModelForSequenceClassification trains the
 * classifier with every prompt-learning method. Built on core's selection kit, so disable() swaps
 * the base head back in and only the trained tensors are saved. Undefined selector: nothing.
 */
export function trainModulesToSave(model: Module<any, any>, selector: TargetSelector | undefined, method: string): AppliedMethod | undefined {
  if (selector === undefined) return undefined;
  const subset = resolveTargets(model, selector, { kind: 'parameter', field: 'modulesToSave', allowEmpty: true });
  if (subset.length === 0) {
    throw new PeftError('selector-no-match', `${method}: modulesToSave matched no parameter (use e.g. { roles: ["head"] }; a head tied to the word embeddings owns none).`, {
      field: 'modulesToSave',
      value: selector,
      allowed: 'a selector matching parameters of the model',
    });
  }
  return fromSelection({ name: method, model, subset: subset.map(({ path, parameter }) => ({ path, parameter })), trainHead: false, mergeable: false });
}
