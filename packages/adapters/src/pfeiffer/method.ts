import { definePeftMethod, requireModelInfo, type Module, type TransformerBlock, type tf } from '@peftjs/core';
import { applySublayerAdapters, chosenLayers } from '../shared/apply-sublayer-adapters';
import { bottleneckWidth } from '../shared/bottleneck';
import type { SublayerAdapterOptions } from '../shared/sublayer-adapter';
import { pfeifferConfigSchema } from './config';

/**
 * Pfeiffer adapters, placed as AdapterHub's `SeqBnConfig` places them (`original_ln_before=True`,
 * `residual_before_ln=True`, `original_ln_after=True`, output adapter only). With h the FFN output
 * and x its residual input, AdapterHub computes u = LN(h + x), then LN(A(u) + h + x), reusing the
 * block's FFN LayerNorm twice.
 * - post-LN (BERT): out = LN2(x + h + A(LN2(x + h))). The FFN sublayer's contribution is
 *   A(LN2(x + h)): placement `after-norm` with the block's `ffnNorm`.
 * - pre-LN (GPT-2): AdapterHub passes no LayerNorm there (`layer_norm=None`), so u = h + x, the
 *   block's output, and out = u + A(u): a sequential adapter on the whole block's output.
 */
export const pfeiffer = definePeftMethod({
  specificationVersion: 'v1',
  name: 'pfeiffer',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: 'One sequential bottleneck adapter after the FFN, placed as AdapterHub places it (Pfeiffer et al., 2021).',
  configSchema: pfeifferConfigSchema,
  apply(model, config, context) {
    const info = requireModelInfo(context, 'pfeiffer');
    const width = bottleneckWidth(info.hiddenSize, config);
    const sites = chosenLayers(info, config.layers ?? config.targets?.layers, 'pfeiffer').map((layer) => {
      const base: SublayerAdapterOptions = { placement: 'sequential', width, activation: config.nonLinearity, scaling: 1 };
      if (info.preLayerNorm) return { path: info.paths.layers[layer]!, options: base };
      const block = model.getModule<TransformerBlock>(info.paths.layers[layer]!);
      return { path: info.paths.ffn[layer]!, options: { ...base, placement: 'after-norm' as const, norm: block.child<Module<[tf.Tensor], tf.Tensor>>('ffnNorm') } };
    });
    return applySublayerAdapters(model, context, 'pfeiffer', sites, { modulesToSave: config.modulesToSave }).applied;
  },
});
