import { targetSelectorSchema, z } from '@peftjs/core';

/**
 * Config of Intrinsic SAID (Aghajanyan, Zettlemoyer, Gupta, "Intrinsic Dimensionality Explains the
 * Effectiveness of Language Model Fine-Tuning", 2020). Every field has a default.
 */
export const intrinsicSaidConfigSchema = z.strictObject({
  /**
   * The intrinsic dimension: trainable entries in all (θ_d, plus one λ per target tensor when
   * structure-aware). Default 1000; the paper finds a few hundred to a few thousand suffice for
   * 90% of full fine-tuning on GLUE-size tasks with BERT/RoBERTa.
   */
  d: z.number().int().positive().default(1000),
  /** SAID (§2, Eq. 3): one learned scale λ_i per target tensor on its share of the projection; else plain DID. */
  structureAware: z.boolean().default(true),
  /** The base tensors that move in the subspace (parameter selection; default every block linear's weight and bias). */
  targets: targetSelectorSchema.default({ roles: ['all-linear'] }),
  /** Linears trained in full beside the subspace, typically the task head (`{ roles: ['head'] }`), as trainable copies. */
  modulesToSave: targetSelectorSchema.optional(),
  /** Seed of the Fastfood factors (each target tensor gets its own). */
  seed: z.number().int().nonnegative().default(0),
});

export type IntrinsicSaidConfig = z.output<typeof intrinsicSaidConfigSchema>;
export type IntrinsicSaidConfigInput = z.input<typeof intrinsicSaidConfigSchema>;
