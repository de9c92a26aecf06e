import { z } from '@peftjs/core';
import { densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of the random mask. Every field has a default. */
export const randomMaskConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** p: the share of target entries that train (k = ⌊N·p⌋). Default 0.005 (0.5%). */
  density: densitySchema(0.005),
  /**
   * 'entries' (default): k entries uniformly over all target entries (Fu et al.'s Random model);
   * 'rows' / 'columns': whole rows / columns of each 2-D tensor drawn at random until ⌊size·p⌋
   * entries per tensor (their structured baselines), vectors by entries.
   */
  layout: z.enum(['entries', 'rows', 'columns']).default('entries'),
});
export type RandomMaskConfig = z.output<typeof randomMaskConfigSchema>;
