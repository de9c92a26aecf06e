import { definePeftMethod, type AppliedMethod } from '@peftjs/core';
import { hfInteger, modulesToSaveFromHf } from '../shared/hf-prompt-files';
import { applyPrefix } from './apply-prefix';
import { prefixTuningConfigSchema } from './config';

export const PREFIX_TUNING = 'prefix-tuning';

/**
 * Prefix tuning (Li & Liang, "Prefix-Tuning: Optimizing Continuous Prompts for Generation", §4.1,
 * Eq. 2: h_i = P_θ[i, :] for i in P_idx at every layer; survey "Scaling Down to Scale Up", §6.2):
 * each attention sublayer attends over P trainable key/value rows before the sequence's own,
 * softmax(q·[P_k; K]ᵀ/√d_h)·[P_v; V]. With `prefixProjection` the rows are an MLP of a smaller
 * table during training (§4.3). As in HF PEFT the attention mask is extended with P ones and
 * positions start at P (HF's past_key_values length), for BERT and GPT-2 alike.
 */
export const prefixTuning = definePeftMethod({
  specificationVersion: 'v1',
  name: PREFIX_TUNING,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: 'Trainable key/value prefixes at every attention layer (Li & Liang 2021).',
  configSchema: prefixTuningConfigSchema,
  hf: {
    peftType: 'PREFIX_TUNING',
    // HF saves the computed prefix (prefix_projection or not) and loads it as a plain table (inference mode).
    configFromHf: (hf) => ({
      numVirtualTokens: hfInteger(hf, 'num_virtual_tokens', PREFIX_TUNING),
      prefixProjection: false,
      ...(modulesToSaveFromHf(hf) ? { modulesToSave: modulesToSaveFromHf(hf)! } : {}),
    }),
  },
  apply(model, config, context): AppliedMethod {
    return applyPrefix(PREFIX_TUNING, model, config, context).applied;
  },
});
