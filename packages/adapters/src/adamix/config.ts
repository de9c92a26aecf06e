import { z } from '@peftjs/core';
import { bottleneckFields, sublayerSchema } from '../shared/bottleneck-config';

/**
 * AdaMix (Wang et al., "AdaMix: Mixture-of-Adaptations for Parameter-efficient Model Tuning", 2022,
 * §2; survey "Scaling Down to Scale Up" §5.2): each adapter is a mixture of `experts` down and up
 * projections, routed at random in training and averaged at inference.
 */
export const adamixConfigSchema = z.strictObject({
  ...bottleneckFields,
  /** Experts per projection (the paper's 4). */
  experts: z.number().int().min(1).default(4),
  /** Which sublayers get an adapter after them. */
  sublayers: z.array(sublayerSchema).min(1).default(['attention', 'ffn']),
  /** Weight of the consistency regularizer between two stochastic routes (0 turns it off). */
  consistencyWeight: z.number().min(0).default(1),
  /** Seed of the stochastic routing. */
  seed: z.number().int().nonnegative().default(0),
});

export type AdamixConfig = z.output<typeof adamixConfigSchema>;
