import { z } from '@peftjs/core';
import { allocationSchema, densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of FishMask. Every field has a default. */
export const fishMaskConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** p: the share of target entries that train. Default 0.005 (0.5%). */
  density: densitySchema(0.005),
  allocation: allocationSchema,
  /** Examples of the calibration batches the Fisher is estimated on (one backward each). Default 256. */
  maxExamples: z.number().int().positive().default(256),
});
export type FishMaskConfig = z.output<typeof fishMaskConfigSchema>;
