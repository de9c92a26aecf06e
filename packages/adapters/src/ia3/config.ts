import { targetSelectorSchema, z } from '@peftjs/core';

const hfModuleNames = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/**
 * (IA)3 (Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context
 * Learning", 2022, §3.3): learned vectors that rescale the keys, the values and the FFN's intermediate
 * activation. Defaults target exactly those: BERT's key and value projections (GPT-2's fused qkv, as
 * HF PEFT targets `c_attn`) and the input of the FFN down projection (HF's `feedforward_modules`).
 */
export const ia3ConfigSchema = z.strictObject({
  /** The linears that get a vector. */
  targets: targetSelectorSchema.default({ roles: ['attention.key', 'attention.value', 'attention.qkv', 'ffn.down'] }),
  /** Which of the targets scale their input (l_ff ⊙ activation, before the projection) rather than their output. */
  feedforward: targetSelectorSchema.default({ roles: ['ffn.down'] }),
  /** HF PEFT's `target_modules` (HF module names: a regex string or names matched as suffixes); replaces `targets`. */
  hfTargetModules: hfModuleNames.optional(),
  /** HF PEFT's `feedforward_modules`; replaces `feedforward` (must be among the targets, as in HF). */
  hfFeedforwardModules: hfModuleNames.optional(),
  /** Modules trained in full beside the vectors (e.g. `{ roles: ['head'] }`). */
  modulesToSave: targetSelectorSchema.optional(),
  /** HF PEFT's `modules_to_save` (`classifier`, `score`): the task head is trained and saved. */
  hfModulesToSave: z.array(z.string().min(1)).optional(),
  /** Start the vectors at one (the paper's init: the model is unchanged); false draws them from N(0, 1) as HF PEFT does. */
  initIa3Weights: z.boolean().default(true),
});

export type Ia3Config = z.output<typeof ia3ConfigSchema>;
export type Ia3ConfigInput = z.input<typeof ia3ConfigSchema>;
