import { PeftError, definePeftMethod, requireModelInfo } from '@peftjs/core';
import { applySublayerAdapters, chosenLayers } from '../shared/apply-sublayer-adapters';
import { bottleneckWidth } from '../shared/bottleneck';
import { compacterConfigSchema } from './config';
import { CompacterAdapter, createPhmRule, type CompacterOptions, type PhmRules } from './layer';

/**
 * Compacter, Compacter++ and the PHM-Adapter (Karimi Mahabadi et al. 2021; survey "Scaling Down to
 * Scale Up" §10.4, Table 5 "Compacter"): sequential adapters (Houlsby placement; FFN only for
 * Compacter++) whose projections are sums of Kronecker products.
 */
export const compacter = definePeftMethod({
  specificationVersion: 'v1',
  name: 'compacter',
  packageName: '@peftjs/adapters',
  kind: 'hybrid',
  description: 'Adapters with PHM projections Σ A_i ⊗ B_i (shared A_i, low-rank B_i); variants compacter++ and phm (Karimi Mahabadi et al., 2021).',
  configSchema: compacterConfigSchema,
  apply(model, config, context) {
    const info = requireModelInfo(context, 'compacter');
    const n = config.phmDimension;
    // From a reduction factor, round the width up to a multiple of n (a small model's d/16 may be below n); a given bottleneckSize must divide.
    const width = config.bottleneckSize ?? Math.max(n, Math.ceil(bottleneckWidth(info.hiddenSize, config) / n) * n);
    if (info.hiddenSize % n !== 0 || width % n !== 0) {
      throw new PeftError('invalid-argument', `compacter: phmDimension ${n} must divide the hidden size (${info.hiddenSize}) and the bottleneck width (${width}).`, { field: 'phmDimension', value: n, allowed: `a common divisor of ${info.hiddenSize} and ${width}` });
    }
    const shared: PhmRules | undefined = config.variant === 'phm' ? undefined : { down: createPhmRule(n, 'phm_rule'), up: createPhmRule(n, 'phm_rule') };
    const sublayers = config.variant === 'compacter++' ? (['ffn'] as const) : (['attention', 'ffn'] as const);
    const sites = chosenLayers(info, config.layers ?? config.targets?.layers, 'compacter').flatMap((layer) => sublayers.map((sublayer) => info.paths[sublayer][layer]!));
    const options = (index: number): CompacterOptions => ({
      placement: 'sequential',
      width,
      activation: config.nonLinearity,
      scaling: 1,
      phmDimension: n,
      phmRank: config.variant === 'phm' ? undefined : config.phmRank,
      sharedRules: shared,
      ownsSharedRules: shared !== undefined && index === 0,
    });
    try {
      return applySublayerAdapters(model, context, 'compacter', sites.map((path, index) => ({ path, options: options(index) })), {
        modulesToSave: config.modulesToSave,
        wrapperType: CompacterAdapter,
        create: (base, hiddenSize) => new CompacterAdapter(base, hiddenSize),
      }).applied;
    } catch (error) {
      // The shared rules are registered (and later disposed) by the first site; a failed apply never registered them.
      if (shared && !shared.down.variable.isDisposed) {
        shared.down.dispose();
        shared.up.dispose();
      }
      throw error;
    }
  },
});
