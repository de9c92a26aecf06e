import { Linear, PeftError, attachAdapters, fromWrappers, resolveTargets, type AppliedMethod, type Module, type TargetSelector, type WrapperTarget } from '@peftjs/core';
import { TrainableCopyLinear } from '../lora/trainable-copy-linear';
import { hfNameOrUndefined, matchesHfTargetModules } from '../lora/hf-format';

/** The Linears under `selector` (a head container selects its projection); none for no selector. */
export function modulesToSavePaths(model: Module<any, any>, selector: TargetSelector | undefined, method: string): string[] {
  if (selector === undefined) return [];
  const paths = resolveTargets(model, selector, { kind: 'module', field: 'modulesToSave' }).flatMap(({ path, module }) =>
    module.namedModules(path).flatMap(([inner, child]) => (child instanceof Linear || child instanceof TrainableCopyLinear ? [inner] : [])),
  );
  const outermost = paths.filter((path) => !paths.some((other) => other !== path && path.startsWith(`${other}.`)));
  if (outermost.length === 0) {
    throw new PeftError('selector-no-match', `${method}: modulesToSave matched no Linear module (use e.g. { roles: ["head"] }).`, { field: 'modulesToSave', value: selector, allowed: 'a selector matching Linear modules' });
  }
  return outermost;
}

/**
 * The part of an applied method that trains copies of the Linears under `selector` (typically the
 * task head), as LoRA's `modulesToSave` does, for methods that train a head beside their own
 * parameters; each adapter keeps its own copy. Join it with `combineApplied`.
 */
export function modulesToSavePart(model: Module<any, any>, selector: TargetSelector | undefined, method: string, adapterName: string): AppliedMethod {
  return fromWrappers(method, model, attachModulesToSave(model, selector, method, adapterName), adapterName);
}

/** Gives each Linear under `selector` a trainable copy for `adapterName` (see modulesToSavePart). */
export function attachModulesToSave(model: Module<any, any>, selector: TargetSelector | undefined, method: string, adapterName: string): Array<WrapperTarget<TrainableCopyLinear>> {
  return attachAdapters(model, modulesToSavePaths(model, selector, method), {
    adapterName,
    methodName: method,
    wrapperType: TrainableCopyLinear,
    create: (current) => new TrainableCopyLinear(current),
    options: () => ({}),
  });
}

/**
 * Gives a trainable copy to each Linear whose HF module name matches HF PEFT's `modules_to_save`
 * (`classifier`, `score`); names that match nothing are skipped, as HF does. For adapters read from HF files.
 */
export function attachHfModulesToSave(model: Module<any, any>, hfNames: readonly string[], method: string, adapterName: string): Array<WrapperTarget<TrainableCopyLinear>> {
  const paths = model.namedModules().flatMap(([path, module]) => {
    const hfName = (module instanceof Linear || module instanceof TrainableCopyLinear) && path !== '' ? hfNameOrUndefined(model, path) : undefined;
    return hfName !== undefined && matchesHfTargetModules(hfNames, hfName) ? [path] : [];
  });
  const outermost = paths.filter((path) => !paths.some((other) => other !== path && path.startsWith(`${other}.`)));
  return attachAdapters(model, outermost, { adapterName, methodName: method, wrapperType: TrainableCopyLinear, create: (current) => new TrainableCopyLinear(current), options: () => ({}) });
}
