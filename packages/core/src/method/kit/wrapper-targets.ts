import { PeftError } from '../../errors/peft-error';
import type { Module } from '../../nn/module';
import type { Parameter } from '../../nn/parameter';
import type { AppliedMethod } from '../types';
import { AdapterWrapper, findWrapper, type WrapperClass } from './adapter-wrapper';
import { loadParametersStrict, stateOf } from './strict-state';

/** One wrapped target of an applied method: the path it was selected at and the wrapper holding its adapter. */
export interface WrapperTarget<W extends AdapterWrapper<any, any, any> = AdapterWrapper<any, any, any>> {
  readonly path: string;
  readonly wrapper: W;
}

export interface AttachAdapterOptions<W extends AdapterWrapper<any, any, any>, Options> {
  /** The adapter being applied (the ApplyContext's adapterName). */
  adapterName: string;
  /** The method's registered name, recorded on each adapter (gates find contributions by it). */
  methodName: string;
  /** The wrapper class: a wrapper of this class already under a target gets the new adapter instead of a second wrapper. */
  wrapperType: WrapperClass<W>;
  /** Makes a new wrapper (without adapters) around the module currently at `path`. */
  create(current: Module<any, any>, path: string): W;
  /** The new adapter's options at `path`. */
  options(path: string, wrapper: W): Options;
}

/**
 * Adds the adapter to every target path: into the wrapper of `wrapperType` already there (a named
 * adapter beside the others, HF PEFT's `update_layer`), or into a new wrapper that replaces the
 * module. If one target fails, what was done is undone, so a rejected config leaves the model as
 * it was.
 */
export function attachAdapters<W extends AdapterWrapper<any, any, any>, Options>(model: Module<any, any>, paths: readonly string[], options: AttachAdapterOptions<W, Options>): Array<WrapperTarget<W>> {
  const targets: Array<WrapperTarget<W>> = [];
  try {
    for (const path of paths) {
      const existing = findWrapper(model.getModule(path), options.wrapperType);
      const wrapper = existing && !existing.hasAdapter(options.adapterName) ? existing : model.replaceModule(path, (current) => options.create(current, path));
      try {
        wrapper.addAdapter(options.adapterName, options.methodName, options.options(path, wrapper));
      } catch (error) {
        if (wrapper !== existing) unwrap(model, path, wrapper);
        throw error;
      }
      targets.push({ path, wrapper });
    }
  } catch (error) {
    detachAdapters(model, targets, options.adapterName);
    throw error;
  }
  return targets;
}

/** Removes the adapter from each target (last first); a wrapper left without adapters is replaced by what it holds. */
export function detachAdapters(model: Module<any, any>, targets: ReadonlyArray<WrapperTarget>, adapterName: string): void {
  for (const { path, wrapper } of [...targets].reverse()) {
    if (!wrapper.hasAdapter(adapterName)) continue;
    wrapper.deleteAdapter(adapterName);
    if (wrapper.adapterNames().length === 0) unwrap(model, path, wrapper);
  }
}

/**
 * Replaces `wrapper`, found at `path` or below it through other wrappers' `base`, by the module it
 * holds.
 */
export function unwrap(model: Module<any, any>, path: string, wrapper: AdapterWrapper<any, any, any>): void {
  const outer = model.getModule(path);
  if (outer === wrapper) {
    model.replaceModule(path, () => wrapper.base);
    return;
  }
  let parent: Module<any, any> = outer;
  while (parent instanceof AdapterWrapper) {
    if (parent.base === wrapper) {
      parent.replaceModule('base', () => wrapper.base);
      return;
    }
    parent = parent.base;
  }
  throw new PeftError('invalid-argument', `No ${wrapper.constructor.name} to unwrap at "${path}".`, { field: 'path', value: path, allowed: 'a path the wrapper was applied at' });
}

/** Every target's adapter parameters keyed `<path>.<parameter>`, in target order. */
export function keyedWrapperParameters(targets: ReadonlyArray<WrapperTarget>, adapterName: string): Array<[string, Parameter]> {
  // After remove() a wrapper no longer holds the adapter (its parameters were disposed with it).
  return targets.flatMap(({ path, wrapper }) => (wrapper.hasAdapter(adapterName) ? wrapper.keyedParameters(adapterName, path) : []));
}

/**
 * The applied form of a method made of wrapper targets: claims, the adapter's parameters, merge
 * in order and unmerge in reverse, enable, strict state keyed `<path>.<parameter>`, and removal.
 * A method's `apply` is then: select the paths, `attachAdapters`, `fromWrappers`.
 *
 * @example
 * apply(model, config, context) {
 *   const paths = resolveWrappableTargets(model, config.targets, { ... }).map((t) => t.path);
 *   const targets = attachAdapters(model, paths, { adapterName: context.adapterName, methodName: 'acme/scale',
 *     wrapperType: ScaleLinear, create: (base) => new ScaleLinear(base), options: () => config });
 *   return fromWrappers('acme/scale', model, targets, context.adapterName);
 * }
 */
export function fromWrappers(name: string, model: Module<any, any>, targets: ReadonlyArray<WrapperTarget>, adapterName: string): AppliedMethod {
  const keyed = () => keyedWrapperParameters(targets, adapterName);
  const mergeable = targets.every(({ wrapper }) => wrapper.supportsMerge);
  return {
    name,
    claims: targets.map(({ path }) => ({ kind: 'wrap' as const, path })),
    parameters: () => keyed().map(([, parameter]) => parameter),
    ...(mergeable
      ? {
          canMerge: () => targets.every(({ wrapper }) => wrapper.canMerge(adapterName)),
          merge: () => targets.forEach(({ wrapper }) => wrapper.mergeAdapter(adapterName)),
          unmerge: () => [...targets].reverse().forEach(({ wrapper }) => wrapper.unmergeAdapter(adapterName)),
        }
      : {}),
    setEnabled: (enabled) => targets.forEach(({ wrapper }) => wrapper.setAdapterEnabled(adapterName, enabled)),
    state: () => stateOf(keyed()),
    load: (state) => loadParametersStrict(name, keyed(), state),
    remove: () => detachAdapters(model, targets, adapterName),
  };
}

