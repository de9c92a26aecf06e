import { z } from '@peftjs/core';
import { sparseTargetsShape } from '../shared/config';

/** Config of Mixout. Every field has a default. */
export const mixoutConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** p: the probability that an entry is replaced by its pretrained value at each training forward. Default 0.7. */
  probability: z.number().gt(0).lt(1).default(0.7),
});
export type MixoutConfig = z.output<typeof mixoutConfigSchema>;
