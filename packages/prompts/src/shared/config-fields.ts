import { targetSelectorSchema, z } from '@peftjs/core';

/** Number of virtual tokens P (HF's `num_virtual_tokens`). */
export const numVirtualTokensSchema = z.number().int().min(1).max(4096);

/**
 * Modules trained in full beside the prompt, typically the task head (`{ roles: ['head'] }`).
 * HF PEFT trains the classifier of every SEQ_CLS prompt-learning model (its `modules_to_save`).
 */
export const modulesToSaveSchema = targetSelectorSchema.optional();
