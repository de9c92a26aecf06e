import { z } from '@peftjs/core';

/** Which residual branches of each block get a DiffFit scale γ. */
export const DIFFFIT_BRANCHES = ['attention', 'ffn'] as const;
export type DiffFitBranch = (typeof DIFFFIT_BRANCHES)[number];

/** Config of DiffFit. Every field has a default. */
export const diffFitConfigSchema = z.strictObject({
  /** Residual branches scaled by a learned γ ∈ R^hidden (default both, as DiffFit scales every block's attention and MLP outputs). */
  branches: z.array(z.enum(DIFFFIT_BRANCHES)).min(1).default([...DIFFFIT_BRANCHES]),
  /** Indices of the blocks whose branches get γ (default every block); the paper ablates where γ goes (DiffFit §4). Biases and norms train in every block. */
  layers: z.array(z.number().int().min(0)).min(1).optional(),
  /** Initial value of every γ entry. 1 leaves the model unchanged at init (DiffFit §3.2). */
  init: z.number().finite().default(1),
  /** Train every bias term (of the linears outside the head). */
  trainBiases: z.boolean().default(true),
  /** Train every LayerNorm's gamma and beta (outside the head). */
  trainNorms: z.boolean().default(true),
  /** Train the task head in full, as the papers do for classification. */
  trainHead: z.boolean().default(true),
});

export type DiffFitConfig = z.output<typeof diffFitConfigSchema>;
export type DiffFitConfigInput = z.input<typeof diffFitConfigSchema>;
