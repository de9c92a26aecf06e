import { Linear, PeftError, attachAdapters, fromWrappers, resolveTargets, type AppliedMethod, type Module, type TargetSelector, type WrapperTarget } from '@peftjs/core';
import { TrainableCopyLinear } from '../lora/trainable-copy-linear';

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
