import { PeftError, attachPromptProvider, combineApplied, definePeftMethod, fromSlotProviders, requireModelInfo, tf, type AppliedMethod } from '@peftjs/core';
import { HF_PROMPT_EMBEDDINGS, hfHeadTensors, hfInteger, hfPromptLearningFields, loadHfPromptFile, modulesToSaveFromHf } from '../shared/hf-prompt-files';
import { trainModulesToSave } from '../shared/modules-to-save';
import { PromptTable } from '../shared/prompt-table';
import type { PromptRows } from '../shared/prompt-rows';
import { pTuningConfigSchema } from './config';
import { EncodedPrompt } from './encoded-prompt';
import { LstmPromptEncoder, MlpPromptEncoder } from './prompt-encoders';

export const P_TUNING = 'p-tuning';

/**
 * P-tuning (Liu et al., "GPT Understands, Too", §3, Eq. 3; survey "Scaling Down to Scale Up", Table 5):
 * P virtual tokens h_0..h_{P−1} = encoder(table) made by a prompt encoder (a bidirectional LSTM plus
 * MLP, or HF's MLP) and placed at the start of the input, as HF PEFT does (the paper allows anchors
 * between tokens; HF and peftjs prepend). Positions, token types and the mask as in prompt tuning.
 * HF PEFT's P_TUNING files hold the encoder's output [P, d]; they load as the 'table' encoder.
 */
export const pTuning = definePeftMethod({
  specificationVersion: 'v1',
  name: P_TUNING,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: 'Virtual tokens made by a trained prompt encoder, MLP or LSTM (Liu et al. 2021).',
  configSchema: pTuningConfigSchema,
  hf: {
    peftType: 'P_TUNING',
    configFromHf: (hf) => ({
      numVirtualTokens: hfInteger(hf, 'num_virtual_tokens', P_TUNING),
      encoder: 'table' as const,
      ...(modulesToSaveFromHf(hf) ? { modulesToSave: modulesToSaveFromHf(hf)! } : {}),
    }),
  },
  apply(model, config, context): AppliedMethod {
    const info = requireModelInfo(context, P_TUNING);
    const size = info.hiddenSize;
    const hiddenSize = config.encoderHiddenSize ?? size;
    const table = tf.randomNormal([config.numVirtualTokens, size], 0, config.initStd, 'float32', config.seed);
    let provider: PromptRows;
    if (config.encoder === 'table') provider = new PromptTable(table);
    else {
      const encoder = config.encoder === 'mlp' ? new MlpPromptEncoder(size, hiddenSize, size) : new LstmPromptEncoder({ inputSize: size, hiddenSize, outputSize: size, numLayers: config.encoderNumLayers, dropout: config.encoderDropout });
      provider = new EncodedPrompt(table, encoder);
    }
    const target = attachPromptProvider(model, context, P_TUNING, provider);
    const prompt = fromSlotProviders(P_TUNING, model, [target], context.adapterName);
    const head = trainModulesToSave(model, config.modulesToSave, P_TUNING);
    const applied = head ? combineApplied(P_TUNING, [prompt, head]) : prompt;
    return {
      ...applied,
      exportHf: () => ({
        config: {
          ...hfPromptLearningFields(info, 'P_TUNING', config.numVirtualTokens, P_TUNING),
          encoder_dropout: config.encoderDropout,
          encoder_hidden_size: hiddenSize,
          encoder_num_layers: config.encoderNumLayers,
          encoder_reparameterization_type: config.encoder === 'lstm' ? 'LSTM' : 'MLP',
        },
        tensors: { [HF_PROMPT_EMBEDDINGS]: tf.tidy(() => provider.rows().clone()), ...hfHeadTensors(model, head, P_TUNING) },
      }),
      loadHf: (tensors) => {
        if (!(provider instanceof PromptTable)) {
          throw new PeftError('not-implemented', "p-tuning: HF PEFT's file holds the encoder's output, which loads into the 'table' encoder (as HF's inference mode).", { field: 'encoder', value: config.encoder, allowed: ['table'] });
        }
        loadHfPromptFile(P_TUNING, model, tensors, provider.embedding, head);
      },
    };
  },
});
