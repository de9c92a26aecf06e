import { definePeftMethod, fromSelection, type Module, notInHead, PeftError, resolveTargets, ROLE_GROUPS, type SelectiveAppliedMethod } from '@peftjs/core';
import { layerSelectionConfigSchema, type LayerSelectionConfig } from './config';

const PART_ROLES: Record<LayerSelectionConfig['parts'], readonly string[]> = {
  block: ['block'],
  attention: ROLE_GROUPS['attention.*']!,
  ffn: ROLE_GROUPS['ffn.*']!,
};

/**
 * Layer / type selection: fine-tune whole chosen blocks (or only their attention or FFN
 * matrices) and freeze the rest. The survey (Lialin, Deshpande and Rumshisky, "Scaling Down to
 * Scale Up", §3.2) names it the earliest selective PEFT: only a few top layers (Donahue et al.,
 * 2014), or only one type of layer (Gheini et al., 2021). Like BitFit it trains base tensors in place: merge is a no-op, disable() swaps the
 * base values in.
 *
 * @example
 * peft(model, [layerSelection({ layers: { top: 2 }, parts: 'ffn' })]); // FFN matrices of the last two blocks + head
 */
export const layerSelectionMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'layer-selection',
  packageName: '@peftjs/selective',
  kind: 'selective',
  description: 'Trains chosen blocks (top-k, bottom-k or listed), or only their attention or FFN matrices, plus the head.',
  configSchema: layerSelectionConfigSchema,
  apply(model, config): SelectiveAppliedMethod {
    const layers = chosenLayers(model, config.layers);
    const subset = resolveTargets(model, { roles: [...PART_ROLES[config.parts]], layers }, { kind: 'parameter', field: 'layer-selection' })
      .filter(notInHead(model))
      .map(({ path, parameter }) => ({ path, parameter }));
    return fromSelection({ name: 'layer-selection', model, subset, trainHead: config.trainHead, mergeable: true });
  },
});

/** `peft(model, [layerSelection({ layers: { top: 2 } })])` */
export const layerSelection = layerSelectionMethod;

const LAYER_SEGMENT = /(?:^|\.)layers\.(\d+)(?=\.|$)/;

/** The block indices of the model (from `layers.<i>` path segments of modules with role `block`). */
export function blockIndices(model: Module<any, any>): number[] {
  const indices = new Set<number>();
  for (const [path, module] of model.namedModules()) {
    const match = module.role === 'block' ? LAYER_SEGMENT.exec(path) : null;
    if (match) indices.add(Number(match[1]));
  }
  return [...indices].sort((a, b) => a - b);
}

function chosenLayers(model: Module<any, any>, layers: LayerSelectionConfig['layers']): number[] {
  const all = blockIndices(model);
  const fail = (field: string, value: unknown): never => {
    throw new PeftError('invalid-config', `layer-selection: ${field} = ${JSON.stringify(value)} does not fit a model with ${all.length} blocks (indices ${all.join(', ') || 'none'}).`, {
      field,
      value,
      allowed: all.length ? `1..${all.length} blocks, indices among ${all.join(', ')}` : 'a model with blocks (role block)',
    });
  };
  if (Array.isArray(layers)) {
    const missing = layers.filter((index) => !all.includes(index));
    if (missing.length) fail('layer-selection.layers', missing);
    return [...layers];
  }
  if ('top' in layers) return layers.top > all.length ? fail('layer-selection.layers.top', layers.top) : all.slice(all.length - layers.top);
  return layers.bottom > all.length ? fail('layer-selection.layers.bottom', layers.bottom) : all.slice(0, layers.bottom);
}
