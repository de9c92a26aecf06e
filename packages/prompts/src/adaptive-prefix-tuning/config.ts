import { z } from '@peftjs/core';
import { prefixFields } from '../prefix-tuning/config';

/**
 * Config of adaptive prefix tuning (Zhang et al., "Towards Adaptive Prefix Tuning for
 * Parameter-efficient Language Model Fine-tuning", ACL 2023, §3). Every field has a default.
 */
export const adaptivePrefixTuningConfigSchema = z.strictObject({
  ...prefixFields,
  /** Initial layer-level scale λ_i of every layer. */
  initialLayerScale: z.number().positive().default(1),
});

export type AdaptivePrefixTuningConfig = z.output<typeof adaptivePrefixTuningConfigSchema>;
export type AdaptivePrefixTuningConfigInput = z.input<typeof adaptivePrefixTuningConfigSchema>;
