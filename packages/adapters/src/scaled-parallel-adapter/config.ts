import { z } from '@peftjs/core';
import { parallelAdapterConfigSchema } from '../parallel-adapter/config';

/**
 * The scaled parallel adapter (He et al., "Towards a Unified View of Parameter-Efficient Transfer
 * Learning", 2022, §4.4, Table 4): a parallel adapter on the FFN with its output scaled by s = 4,
 * the adapter half of their mix-and-match (MAM) adapter.
 */
export const scaledParallelAdapterConfigSchema = parallelAdapterConfigSchema.extend({
  scaling: z.number().finite().positive().default(4),
});

export type ScaledParallelAdapterConfig = z.output<typeof scaledParallelAdapterConfigSchema>;
