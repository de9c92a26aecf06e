import { attachPromptProvider, combineApplied, definePeftMethod, fromSlotProviders, requireModelInfo, tf, type AppliedMethod, type ModelInfo, type Module } from '@peftjs/core';
import { HF_PROMPT_EMBEDDINGS, hfHeadTensors, hfInteger, hfPromptLearningFields, loadHfPromptFile, modulesToSaveFromHf } from '../shared/hf-prompt-files';
import { trainModulesToSave } from '../shared/modules-to-save';
import { PromptTable } from '../shared/prompt-table';
import { repeatToLength, sampleVocabIds, wordEmbeddingRows } from '../shared/word-embeddings';
import { promptTuningConfigSchema, type PromptTuningConfig } from './config';

export const PROMPT_TUNING = 'prompt-tuning';

/** The initial soft prompt [P, hidden] for a config (HF PEFT's PromptEmbedding init). */
export function initialPrompt(model: Module<any, any>, info: ModelInfo, config: Pick<PromptTuningConfig, 'numVirtualTokens' | 'init' | 'initTokenIds' | 'initStd' | 'seed'>): tf.Tensor {
  const length = config.numVirtualTokens;
  switch (config.init) {
    case 'random':
      return tf.randomNormal([length, info.hiddenSize], 0, config.initStd, 'float32', config.seed);
    case 'sample-vocab':
      return wordEmbeddingRows(model, info, sampleVocabIds(info.vocabSize, length, config.seed), 'initTokenIds');
    case 'text':
      return wordEmbeddingRows(model, info, repeatToLength(config.initTokenIds!, length), 'initTokenIds');
  }
}

/**
 * Prompt tuning (Lester et al., "The Power of Scale for Parameter-Efficient Prompt Tuning", §2; the
 * survey "Scaling Down to Scale Up", §6.1): P trainable soft tokens P_e ∈ R^{P×d} are prepended to the
 * embedded input, [P_e; X_e] ∈ R^{(P+n)×d}, and only P_e (and the head, with modulesToSave) trains.
 * As in HF PEFT the soft tokens take positions 0..P−1 and token type 0, the attention mask is
 * extended with P ones, and BERT's pooler reads the first soft token.
 */
export const promptTuning = definePeftMethod({
  specificationVersion: 'v1',
  name: PROMPT_TUNING,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: 'Trainable soft tokens prepended to the input embeddings (Lester et al. 2021).',
  configSchema: promptTuningConfigSchema,
  hf: {
    peftType: 'PROMPT_TUNING',
    configFromHf: (hf) => ({
      numVirtualTokens: hfInteger(hf, 'num_virtual_tokens', PROMPT_TUNING),
      init: 'random' as const,
      ...(modulesToSaveFromHf(hf) ? { modulesToSave: modulesToSaveFromHf(hf)! } : {}),
    }),
  },
  apply(model, config, context): AppliedMethod {
    const info = requireModelInfo(context, PROMPT_TUNING);
    const table = new PromptTable(initialPrompt(model, info, config));
    const target = attachPromptProvider(model, context, PROMPT_TUNING, table);
    const prompt = fromSlotProviders(PROMPT_TUNING, model, [target], context.adapterName);
    const head = trainModulesToSave(model, config.modulesToSave, PROMPT_TUNING);
    const applied = head ? combineApplied(PROMPT_TUNING, [prompt, head]) : prompt;
    return {
      ...applied,
      exportHf: () => ({
        config: {
          ...hfPromptLearningFields(info, 'PROMPT_TUNING', config.numVirtualTokens, PROMPT_TUNING),
          prompt_tuning_init: 'RANDOM',
          prompt_tuning_init_text: null,
          tokenizer_kwargs: null,
          tokenizer_name_or_path: null,
        },
        tensors: { [HF_PROMPT_EMBEDDINGS]: tf.clone(table.embedding.value), ...hfHeadTensors(model, head, PROMPT_TUNING) },
      }),
      loadHf: (tensors) => loadHfPromptFile(PROMPT_TUNING, model, tensors, table.embedding, head),
    };
  },
});
