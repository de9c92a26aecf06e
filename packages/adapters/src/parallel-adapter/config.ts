import { z } from '@peftjs/core';
import { bottleneckFields, sublayerSchema } from '../shared/bottleneck-config';

/**
 * Parallel adapters (He et al., "Towards a Unified View of Parameter-Efficient Transfer Learning",
 * 2022, §3.2 and Eq. 8): a bottleneck beside a sublayer, reading its input. He et al. find the FFN
 * side best at small budgets (§4.4).
 */
export const parallelAdapterConfigSchema = z.strictObject({
  ...bottleneckFields,
  /** Which sublayers get an adapter beside them. */
  sublayers: z.array(sublayerSchema).min(1).default(['ffn']),
  /** Scale s on the adapter output (1: the plain parallel adapter). */
  scaling: z.number().finite().positive().default(1),
});

export type ParallelAdapterConfig = z.output<typeof parallelAdapterConfigSchema>;
