import { z } from '@peftjs/core';
import { allocationSchema, densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of LT-SFT. Every field has a default. */
export const ltSftConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** K as a share of the target entries. Default 0.005 (0.5%). */
  density: densitySchema(0.005),
  allocation: allocationSchema,
  /** Adam steps of the full fine-tuning phase, cycling over the calibration batches. Default 16. */
  fullSteps: z.number().int().positive().default(16),
  /** Learning rate of the full fine-tuning phase (Adam, no weight decay). Default 1e-4. */
  fullLearningRate: z.number().positive().default(1e-4),
});
export type LtSftConfig = z.output<typeof ltSftConfigSchema>;
