import { targetSelectorSchema, z } from '@peftjs/core';

/** Config of FAR. Every field has a default. */
export const farConfigSchema = z.strictObject({
  /** The linears to split; FAR reconfigures the feed-forward layers (default: both FFN projections). */
  targets: targetSelectorSchema.default({ roles: ['ffn.up', 'ffn.down'] }),
  /** Share of each linear's output units (the paper's rows) that train, rounded to at least one. */
  fraction: z.number().gt(0).lte(1).default(0.1),
  /**
   * How units are chosen: 'calibrated' (the paper's priming: before training, a short fine-tuning of
   * the target linears on the calibration batches; the units whose weights moved most, by L1 distance,
   * train) or 'random' (seeded; also what holds until calibration runs).
   */
  selection: z.enum(['calibrated', 'random']).default('calibrated'),
  /** Plain SGD steps of the priming run (over the calibration batches, cycled). */
  primingSteps: z.number().int().positive().default(8),
  /** Learning rate of the priming SGD. The ranking, not the size, of the change matters. */
  primingLearningRate: z.number().positive().default(1e-2),
  /** Train the task head in full. */
  trainHead: z.boolean().default(true),
  /** Seed of the 'random' selection. */
  seed: z.number().int().nonnegative().default(0),
});

export type FarConfig = z.output<typeof farConfigSchema>;
export type FarConfigInput = z.input<typeof farConfigSchema>;
