import { definePeftMethod, requireModelInfo, type ApplyContext, type AppliedMethod, type Module } from '@peftjs/core';
import { applySublayerAdapters, chosenLayers } from '../shared/apply-sublayer-adapters';
import { bottleneckWidth } from '../shared/bottleneck';
import { parallelAdapterConfigSchema, type ParallelAdapterConfig } from './config';

/**
 * f(x) ← f(x) + s·A(x) beside each chosen sublayer f (He et al. §3.2, Eq. 8: h ← h + s·ReLU(x·W_down)·W_up).
 * The sublayer input x is what f reads: the hidden states in post-LN blocks, LN(hidden) in pre-LN
 * blocks, as in He et al.'s code, where the adapter reads the FFN's input.
 */
export function applyParallelAdapters(model: Module<any, any>, config: ParallelAdapterConfig, context: ApplyContext, methodName: string): AppliedMethod {
  const info = requireModelInfo(context, methodName);
  const width = bottleneckWidth(info.hiddenSize, config);
  const sites = chosenLayers(info, config.layers ?? config.targets?.layers, methodName).flatMap((layer) =>
    [...new Set(config.sublayers)].map((sublayer) => ({
      path: info.paths[sublayer][layer]!,
      options: { placement: 'parallel' as const, width, activation: config.nonLinearity, scaling: config.scaling },
    })),
  );
  return applySublayerAdapters(model, context, methodName, sites, { modulesToSave: config.modulesToSave }).applied;
}

export const parallelAdapter = definePeftMethod({
  specificationVersion: 'v1',
  name: 'parallel-adapter',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: 'Bottleneck adapters beside the FFN (or attention), reading its input (He et al., 2022).',
  configSchema: parallelAdapterConfigSchema,
  apply: (model, config, context) => applyParallelAdapters(model, config, context, 'parallel-adapter'),
});
