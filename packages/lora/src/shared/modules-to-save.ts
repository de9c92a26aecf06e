import { Linear, PeftError, resolveTargets, type Module, type TargetSelector } from '@peftjs/core';
import { TrainableCopyLinear } from '../lora/trainable-copy-linear';
import { hfNameOrUndefined, matchesHfTargetModules } from '../lora/hf-format';
import { wrapTargets, type TargetWrapper } from './wrapped-targets';

/**
 * Wraps the Linears under `selector` (typically the task head) in trainable copies, as LoRA's
 * `modulesToSave` does, for methods that train a head beside their own parameters. No selector: none.
 */
export function wrapModulesToSave(model: Module<any, any>, selector: TargetSelector | undefined, method: string): Array<{ path: string; layer: TargetWrapper }> {
  if (selector === undefined) return [];
  const paths = resolveTargets(model, selector, { kind: 'module', field: 'modulesToSave' }).flatMap(({ path, module }) =>
    module.namedModules(path).flatMap(([inner, child]) => (child instanceof Linear ? [inner] : [])),
  );
  if (paths.length === 0) {
    throw new PeftError('selector-no-match', `${method}: modulesToSave matched no Linear module (use e.g. { roles: ["head"] }).`, { field: 'modulesToSave', value: selector, allowed: 'a selector matching Linear modules' });
  }
  return wrapTargets(model, paths, (current) => new TrainableCopyLinear(current as Linear));
}

/**
 * Wraps the Linears whose HF module names match HF PEFT's `modules_to_save` (`classifier`, `score`)
 * in trainable copies; names that match nothing are skipped, as HF does. For adapters read from HF files.
 */
export function wrapHfModulesToSave(model: Module<any, any>, hfNames: readonly string[]): Array<{ path: string; layer: TargetWrapper }> {
  const paths = model.namedModules().flatMap(([path, module]) => {
    const hfName = module instanceof Linear && path !== '' ? hfNameOrUndefined(model, path) : undefined;
    return hfName !== undefined && matchesHfTargetModules(hfNames, hfName) ? [path] : [];
  });
  return wrapTargets(model, paths, (current) => new TrainableCopyLinear(current as Linear));
}
