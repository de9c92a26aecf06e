import { attachPromptProvider, combineApplied, definePeftMethod, fromSlotProviders, requireModelInfo, PeftError, tf, type AppliedMethod } from '@peftjs/core';
import { initialPrompt } from '../prompt-tuning/method';
import { HF_PROMPT_EMBEDDINGS, hfHeadTensors, hfPromptLearningFields } from '../shared/hf-prompt-files';
import { trainModulesToSave } from '../shared/modules-to-save';
import { PromptTable } from '../shared/prompt-table';
import { spotConfigSchema } from './config';

export const SPOT = 'spot';

/**
 * SPoT (Vu et al., "SPoT: Better Frozen Model Adaptation through Soft Prompt Transfer", §2–§4; survey
 * "Scaling Down to Scale Up", §6.4 on pre-trained prompts): prompt tuning (Lester et al. §2) whose
 * prompt starts from a source task's trained prompt. The transfer itself is the init; training then
 * is prompt tuning. `save(dir, { format: 'hf' })` writes HF PEFT's PROMPT_TUNING files.
 */
export const spot = definePeftMethod({
  specificationVersion: 'v1',
  name: SPOT,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: "Prompt tuning initialised from a source task's prompt (Vu et al. 2022).",
  configSchema: spotConfigSchema,
  apply(model, config, context): AppliedMethod {
    const info = requireModelInfo(context, SPOT);
    if (config.sourceRows && config.sourceRows[0]!.length !== info.hiddenSize) {
      throw new PeftError('invalid-config', `spot: the source prompt has width ${config.sourceRows[0]!.length}; the model's hidden size is ${info.hiddenSize}.`, { field: 'sourceRows', value: config.sourceRows[0]!.length, allowed: `rows of width ${info.hiddenSize}` });
    }
    const initial = config.sourceRows ? tf.tensor2d(config.sourceRows) : initialPrompt(model, info, { numVirtualTokens: config.numVirtualTokens, init: 'sample-vocab', initTokenIds: undefined, initStd: 1, seed: config.seed });
    const table = new PromptTable(initial);
    const target = attachPromptProvider(model, context, SPOT, table);
    const prompt = fromSlotProviders(SPOT, model, [target], context.adapterName);
    const head = trainModulesToSave(model, config.modulesToSave, SPOT);
    const applied = head ? combineApplied(SPOT, [prompt, head]) : prompt;
    return {
      ...applied,
      exportHf: () => ({
        config: { ...hfPromptLearningFields(info, 'PROMPT_TUNING', config.numVirtualTokens, SPOT), prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, tokenizer_kwargs: null, tokenizer_name_or_path: null },
        tensors: { [HF_PROMPT_EMBEDDINGS]: tf.clone(table.embedding.value), ...hfHeadTensors(model, head, SPOT) },
      }),
    };
  },
});
