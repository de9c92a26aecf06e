import { z } from '@peftjs/core';
import { modulesToSaveSchema, numVirtualTokensSchema } from '../shared/config-fields';

/** How the soft prompt starts (HF PEFT's `prompt_tuning_init`). */
export const PROMPT_TUNING_INITS = ['random', 'sample-vocab', 'text'] as const;
export type PromptTuningInit = (typeof PROMPT_TUNING_INITS)[number];

/**
 * Config of prompt tuning (Lester et al., "The Power of Scale for Parameter-Efficient Prompt Tuning", §2).
 * Every field but `initTokenIds` (with init 'text') has a default.
 */
export const promptTuningConfigSchema = z
  .strictObject({
    /** Soft tokens P prepended to the word embeddings. */
    numVirtualTokens: numVirtualTokensSchema.default(10),
    /**
     * 'random': N(0, initStd²) rows (HF's RANDOM is nn.Embedding's N(0, 1)); 'sample-vocab' (default):
     * rows of the word-embedding table at uniformly drawn token ids (Lester et al. §3.2 find vocabulary
     * and class-label inits beat random ones at small scale); 'text': the embeddings of `initTokenIds`,
     * repeated or cut to P (HF's TEXT, which tokenizes `prompt_tuning_init_text`: peftjs has no
     * tokenizer, so pass the ids your tokenizer gives).
     */
    init: z.enum(PROMPT_TUNING_INITS).default('sample-vocab'),
    /** Token ids of the init text (init 'text' only). */
    initTokenIds: z.array(z.number().int().min(0)).min(1).optional(),
    /** Std of the 'random' init. */
    initStd: z.number().positive().default(1),
    /** Seed of the random and sample-vocab inits. */
    seed: z.number().int().min(0).default(0),
    modulesToSave: modulesToSaveSchema,
  })
  .superRefine((config, context) => {
    if (config.init === 'text' && config.initTokenIds === undefined) {
      context.addIssue({ code: 'custom', path: ['initTokenIds'], message: "init 'text' needs initTokenIds (the token ids of the init text)", input: config.initTokenIds });
    }
    if (config.init !== 'text' && config.initTokenIds !== undefined) {
      context.addIssue({ code: 'custom', path: ['initTokenIds'], message: `initTokenIds applies to init 'text', not '${config.init}'`, input: config.initTokenIds });
    }
  });

export type PromptTuningConfig = z.output<typeof promptTuningConfigSchema>;
export type PromptTuningConfigInput = z.input<typeof promptTuningConfigSchema>;
