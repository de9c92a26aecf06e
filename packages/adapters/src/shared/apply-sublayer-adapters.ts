import { PeftError, attachAdapters, combineApplied, fromWrappers, requireModelInfo, type AppliedMethod, type ApplyContext, type LayerContext, type ModelInfo, type Module, type TargetSelector, type tf } from '@peftjs/core';
import { modulesToSavePart } from './modules-to-save';
import { SublayerAdapter, type SublayerAdapterBase, type SublayerAdapterOptions } from './sublayer-adapter';

/** One place an adapter goes: the module path it wraps and the adapter's options there. */
export interface AdapterSite<Options extends SublayerAdapterOptions = SublayerAdapterOptions> {
  path: string;
  options: Options;
}

/** The block indices a config's `layers` chooses (all by default), checked against the model. */
export function chosenLayers(info: ModelInfo, layers: readonly number[] | undefined, method: string): number[] {
  const all = info.paths.layers.map((_, index) => index);
  if (layers === undefined) return all;
  const outside = layers.filter((index) => index >= all.length);
  if (outside.length > 0) {
    throw new PeftError('invalid-argument', `${method}: layers [${outside.join(', ')}] do not exist; the model has ${all.length} layers.`, { field: 'layers', value: layers, allowed: `indices 0..${all.length - 1}` });
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}

/**
 * Puts one adapter of `methodName` at every site (into a wrapper of the same class already there,
 * as a named adapter), and returns the applied method: the wrappers plus, when asked, the modules
 * trained in full. Not mergeable (no wrapper has a weight delta).
 */
export function applySublayerAdapters<W extends SublayerAdapterBase<any>, Options extends SublayerAdapterOptions>(
  model: Module<any, any>,
  context: ApplyContext,
  methodName: string,
  sites: ReadonlyArray<AdapterSite<Options>>,
  extra: { modulesToSave?: TargetSelector | undefined; wrapperType?: abstract new (...args: any[]) => W; create?: (base: Module<[tf.Tensor, LayerContext], tf.Tensor>, hiddenSize: number) => W } = {},
): { applied: AppliedMethod; wrappers: W[] } {
  const info = requireModelInfo(context, methodName);
  const byPath = new Map(sites.map((site) => [site.path, site.options]));
  const create = extra.create ?? ((base, hiddenSize) => new SublayerAdapter(base, hiddenSize) as unknown as W);
  const targets = attachAdapters(model, [...byPath.keys()], {
    adapterName: context.adapterName,
    methodName,
    wrapperType: extra.wrapperType ?? (SublayerAdapter as unknown as abstract new (...args: any[]) => W),
    create: (current) => create(current as Module<[tf.Tensor, LayerContext], tf.Tensor>, info.hiddenSize),
    options: (path) => byPath.get(path)!,
  });
  const parts = [fromWrappers(methodName, model, targets, context.adapterName)];
  try {
    const saved = modulesToSavePart(model, extra.modulesToSave, methodName, false);
    if (saved) parts.push(saved);
  } catch (error) {
    parts[0]!.remove?.();
    throw error;
  }
  return { applied: parts.length === 1 ? parts[0]! : combineApplied(methodName, parts), wrappers: targets.map((target) => target.wrapper) };
}
