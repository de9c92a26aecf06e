import { targetSelectorSchema, z } from '@peftjs/core';

/**
 * Config fields every sparse method takes. `density` is Fu et al.'s p ("On the Effectiveness of
 * Parameter-Efficient Fine-Tuning", Definition 1: ‖θ − θ0‖0 ≤ p·dim θ), counted over the target
 * tensors; k = ⌊N·p⌋ entries train.
 */
export const sparseTargetsShape = {
  /** The tensors the mask covers. Default: every parameter of the transformer blocks (embeddings and head apart). */
  targets: targetSelectorSchema.default({ roles: ['block'] }),
  /** Modules trained in full beside the sparse delta (the task head by default, as in the papers); null for none. */
  modulesToSave: targetSelectorSchema.nullable().default({ roles: ['head'] }),
  /** Seed of every random choice (mask draws, tie-free under the same seed). */
  seed: z.number().int().min(0).default(0),
};

export const densitySchema = (fallback: number) => z.number().gt(0).max(1).default(fallback);

/**
 * How k is spread over the tensors: 'global' ranks all target entries together (Fu et al.'s ⌊mp⌋
 * over all m parameters, Eq. 4); 'per-tensor' takes ⌊p·size⌋ of each tensor.
 */
export const allocationSchema = z.enum(['global', 'per-tensor']).default('global');
