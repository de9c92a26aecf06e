import { targetSelectorSchema, z } from '@peftjs/core';

/**
 * Ladder side-tuning (Sung et al., "LST: Ladder Side-Tuning for Parameter and Memory Efficient
 * Transfer Learning", 2022, §3; survey "Scaling Down to Scale Up" §7.1): a narrow transformer
 * beside the frozen backbone, fed by downsampled backbone hidden states through gated ladders.
 */
export const lstConfigSchema = z.strictObject({
  /** Backbone width divided by the side network's width (the paper's r = 8). */
  reductionFactor: z.number().int().min(1).default(8),
  /** Temperature T of the ladder gates μ_i = sigmoid(α_i / T) (the paper's 0.1). */
  gateTemperature: z.number().positive().default(0.1),
  /** Attention heads of the side blocks; default the backbone's when they divide the side width, else 1. */
  sideHeads: z.number().int().min(1).optional(),
  /** Std of the side network's normal init. */
  initStd: z.number().positive().default(0.02),
  /** Modules trained in full beside the side network (e.g. `{ roles: ['head'] }`). */
  modulesToSave: targetSelectorSchema.optional(),
});

export type LstConfig = z.output<typeof lstConfigSchema>;
