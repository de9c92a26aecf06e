import { PeftError, fromSelection, resolveTargets, type AppliedMethod, type Module, type TargetSelector } from '@peftjs/core';

/**
 * The parameters under `selector` (typically the task head) trained in full beside an adapter
 * method, as LoRA's `modulesToSave`: core's selection kit unfreezes them, swaps the base values
 * back in on disable and saves them. Undefined selector: no part.
 */
export function modulesToSavePart(model: Module<any, any>, selector: TargetSelector | undefined, method: string, mergeable: boolean): AppliedMethod | undefined {
  if (selector === undefined) return undefined;
  const subset = resolveTargets(model, selector, { kind: 'parameter', field: 'modulesToSave', allowEmpty: true }).map(({ path, parameter }) => ({ path, parameter }));
  if (subset.length === 0) {
    throw new PeftError('selector-no-match', `${method}: modulesToSave matched no parameters (use e.g. { roles: ["head"] }; GPT-2's tied LM head owns none).`, { field: 'modulesToSave', value: selector, allowed: 'a selector matching modules with parameters' });
  }
  return fromSelection({ name: method, model, subset, trainHead: false, mergeable });
}
