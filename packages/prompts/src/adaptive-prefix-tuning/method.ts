import { definePeftMethod, type AppliedMethod } from '@peftjs/core';
import { applyPrefix, initialPrefixRows } from '../prefix-tuning/apply-prefix';
import { AdaptivePrefix } from './adaptive-prefix';
import { adaptivePrefixTuningConfigSchema } from './config';

export const ADAPTIVE_PREFIX_TUNING = 'adaptive-prefix-tuning';

/**
 * Adaptive prefix tuning (Zhang et al., "Towards Adaptive Prefix Tuning for Parameter-efficient
 * Language Model Fine-tuning", §3; survey "Scaling Down to Scale Up", §6.3): prefix tuning whose
 * prefix at each layer is scaled by a token-level gate computed from the layer's input and a
 * layer-level learned scale, so the effective prefix length and strength adapt per layer. HF PEFT
 * has no such method: files are peftjs's own.
 */
export const adaptivePrefixTuning = definePeftMethod({
  specificationVersion: 'v1',
  name: ADAPTIVE_PREFIX_TUNING,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: 'Prefix tuning with per-layer token-level gates and layer-level scales (Zhang et al. 2023).',
  configSchema: adaptivePrefixTuningConfigSchema,
  apply(model, config, context): AppliedMethod {
    const { applied } = applyPrefix(ADAPTIVE_PREFIX_TUNING, model, config, context, (layer, _position, info) => {
      const [key, value] = initialPrefixRows(config, info, layer);
      return new AdaptivePrefix(key, value, config.initialLayerScale);
    });
    const { exportHf: _exportHf, loadHf: _loadHf, ...own } = applied;
    return own;
  },
});
