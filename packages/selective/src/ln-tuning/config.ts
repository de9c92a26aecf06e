import { z } from '@peftjs/core';

/** The LayerNorm positions, by role: `norm.<position>`. */
export const NORM_POSITIONS = ['attention', 'ffn', 'final', 'embedding'] as const;
export type NormPosition = (typeof NORM_POSITIONS)[number];

/** Which LayerNorm tensors train. */
export const LN_TENSORS = ['gamma', 'beta', 'both'] as const;

/** Config of LayerNorm tuning. Every field has a default. */
export const lnTuningConfigSchema = z.strictObject({
  /**
   * 'gamma' (the scale, BitFit+'s g_LN), 'beta' (the shift, b_LN) or 'both' (default, as HF PEFT's
   * LN tuning trains the whole LayerNorm).
   */
  tensors: z.enum(LN_TENSORS).default('both'),
  /**
   * Which LayerNorms, by role: 'attention' = norm.attention (BitFit+'s LN1, after the attention
   * sublayer), 'ffn' = norm.ffn (LN2, after the MLP), 'final' = norm.final (pre-LN models),
   * 'embedding' = norm.embedding. Default all four; those a model lacks are skipped, but at least
   * one must exist.
   */
  norms: z.array(z.enum(NORM_POSITIONS)).min(1).default([...NORM_POSITIONS]),
  /** Train the task head in full, as the papers do. Its entries are counted apart from the norms. */
  trainHead: z.boolean().default(true),
});

export type LnTuningConfig = z.output<typeof lnTuningConfigSchema>;
export type LnTuningConfigInput = z.input<typeof lnTuningConfigSchema>;
