import { z } from '@peftjs/core';
import { allocationSchema, densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of the magnitude mask. Every field has a default. */
export const magnitudeMaskConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** p: the share of target entries that train (k = ⌊N·p⌋). Default 0.005 (0.5%). */
  density: densitySchema(0.005),
  /** 'largest' (default): the entries of largest |θ0| (Fu et al.'s MagPruning "tunes the parameters with large norms"); 'smallest': the opposite. */
  order: z.enum(['largest', 'smallest']).default('largest'),
  allocation: allocationSchema,
});
export type MagnitudeMaskConfig = z.output<typeof magnitudeMaskConfigSchema>;
