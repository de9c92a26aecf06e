import { z } from '@peftjs/core';
import { allocationSchema, densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of SAM. Every field has a default. */
export const samConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** p: the share of target entries that train, k = ⌊m·p⌋ (Fu et al. Eq. 4). Default 0.005 (0.5%). */
  density: densitySchema(0.005),
  allocation: allocationSchema,
});
export type SamConfig = z.output<typeof samConfigSchema>;
