import { targetSelectorSchema, z } from '@peftjs/core';

/** The form of GLoRA's weight terms A (scales W0) and B (adds to W0): Eq. 10's support sets. */
export const GLORA_MATRIX_VARIANTS = ['lora', 'vector', 'scalar', 'none'] as const;
/** The form of C (the prompt-like term W0·C, a bias shift). */
export const GLORA_PROMPT_VARIANTS = ['lora', 'vector', 'none'] as const;
/** The form of D (scales b0) and E (adds to the bias). */
export const GLORA_BIAS_VARIANTS = ['vector', 'scalar', 'none'] as const;

/**
 * Config of GLoRA (Chavan et al., "One-for-All: Generalized LoRA for Parameter-Efficient
 * Fine-tuning", 2023). Every field has a default. The paper searches a variant per layer with an
 * evolutionary search over a trained supernet; here one variant per term applies to every target.
 */
export const gloraConfigSchema = z.strictObject({
  /** Rank of the 'lora' variants. */
  r: z.number().int().positive().default(4),
  /** Which linears (default query and value, as LoRA). */
  targets: targetSelectorSchema.default({ roles: ['attention.query', 'attention.value'] }),
  /** Linears trained in full beside the method, typically the task head (`{ roles: ['head'] }`, HF's modules_to_save), as trainable copies. */
  modulesToSave: targetSelectorSchema.optional(),
  /** A: W0 ⊙ A scales the frozen weight entrywise (low-rank, per output unit, one scalar, or off). */
  a: z.enum(GLORA_MATRIX_VARIANTS).default('lora'),
  /** B: added to the weight (low-rank, per output unit, one scalar, or off). */
  b: z.enum(GLORA_MATRIX_VARIANTS).default('lora'),
  /** C: the input-space vector whose image W0·C shifts the bias (low-rank r × 1, a vector, or off). */
  c: z.enum(GLORA_PROMPT_VARIANTS).default('vector'),
  /** D: b0 ⊙ D scales the frozen bias. */
  d: z.enum(GLORA_BIAS_VARIANTS).default('vector'),
  /** E: added to the bias. */
  e: z.enum(GLORA_BIAS_VARIANTS).default('vector'),
});

export type GloraConfig = z.output<typeof gloraConfigSchema>;
export type GloraConfigInput = z.input<typeof gloraConfigSchema>;
