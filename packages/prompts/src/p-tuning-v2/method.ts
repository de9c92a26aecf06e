import { definePeftMethod, type AppliedMethod } from '@peftjs/core';
import { applyPrefix } from '../prefix-tuning/apply-prefix';
import { pTuningV2ConfigSchema } from './config';

export const P_TUNING_V2 = 'p-tuning-v2';

/**
 * P-tuning v2 (Liu et al., "P-Tuning v2", §3.2 "Deep Prompt Tuning"; the survey's Table 5 row):
 * continuous prompts as key/value prefixes at every layer, trained directly (no reparametrization,
 * §3.3), with a linear classification head on the encoder instead of a verbalizer. The same
 * providers as prefix tuning without projection; `save(dir, { format: 'hf' })` writes HF PEFT's
 * PREFIX_TUNING files (HF documents P-tuning v2 as its prefix tuning), which load as prefix-tuning.
 */
export const pTuningV2 = definePeftMethod({
  specificationVersion: 'v1',
  name: P_TUNING_V2,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: 'Deep prompts at every layer with a trained classification head (Liu et al. 2022).',
  configSchema: pTuningV2ConfigSchema,
  apply(model, config, context): AppliedMethod {
    return applyPrefix(P_TUNING_V2, model, config, context).applied;
  },
});
