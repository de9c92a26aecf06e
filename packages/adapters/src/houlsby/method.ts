import { definePeftMethod, requireModelInfo } from '@peftjs/core';
import { applySublayerAdapters, chosenLayers } from '../shared/apply-sublayer-adapters';
import { bottleneckWidth } from '../shared/bottleneck';
import { houlsbyConfigSchema } from './config';

/**
 * Houlsby adapters: after each chosen sublayer f, f(x) ← f(x) + A(f(x)) with A the bottleneck
 * f_act(h·W_down)·W_up (survey "Scaling Down to Scale Up" §5.1; Houlsby et al. §2.1). The sublayer returns its output
 * before the block's residual add (and, in BERT, before its LayerNorm), so this is exactly the
 * paper's "adapter after the sublayer output, with its own skip connection, before the residual
 * and LayerNorm" (AdapterHub `original_ln_before=False, residual_before_ln=True`), for post-LN and
 * pre-LN blocks alike.
 */
export const houlsby = definePeftMethod({
  specificationVersion: 'v1',
  name: 'houlsby',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: 'Sequential bottleneck adapters after the attention and FFN sublayers (Houlsby et al., 2019).',
  configSchema: houlsbyConfigSchema,
  apply(model, config, context) {
    const info = requireModelInfo(context, 'houlsby');
    const width = bottleneckWidth(info.hiddenSize, config);
    const sites = chosenLayers(info, config.layers ?? config.targets?.layers, 'houlsby').flatMap((layer) =>
      [...new Set(config.sublayers)].map((sublayer) => ({
        path: info.paths[sublayer][layer]!,
        options: { placement: 'sequential' as const, width, activation: config.nonLinearity, scaling: 1 },
      })),
    );
    return applySublayerAdapters(model, context, 'houlsby', sites, { modulesToSave: config.modulesToSave }).applied;
  },
});
