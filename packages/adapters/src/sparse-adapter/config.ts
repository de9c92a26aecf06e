import { z } from '@peftjs/core';
import { bottleneckFields, sublayerSchema } from '../shared/bottleneck-config';

/**
 * SparseAdapter (He et al., "SparseAdapter: An Easy Approach for Improving the Parameter-Efficiency
 * of Adapters", 2022, §2.2; survey "Scaling Down to Scale Up" §10.1): bottleneck adapters whose
 * projection weights are pruned once at initialization to a target sparsity and stay sparse.
 */
export const sparseAdapterConfigSchema = z.strictObject({
  ...bottleneckFields,
  /** Sequential (after the sublayer, Houlsby) or parallel (beside it, He et al.'s parallel adapter). */
  placement: z.enum(['sequential', 'parallel']).default('sequential'),
  /** Which sublayers get an adapter. */
  sublayers: z.array(sublayerSchema).min(1).default(['attention', 'ffn']),
  /** Scale s on a parallel adapter's output. */
  scaling: z.number().finite().positive().default(1),
  /** Fraction of each projection matrix's entries pruned (the paper's sparsity ratio s). */
  sparsity: z.number().min(0).lt(1).default(0.4),
  /**
   * Pruning criterion at init (§2.2): `snip` scores |w·∂L/∂w| on calibration batches (SNIP, Lee et
   * al. 2019; |∂L/∂w| for the zero-initialised up projection), `magnitude` |w|, `random` seeded
   * uniform scores. Until `calibrate` runs, `snip` uses the magnitude mask.
   */
  criterion: z.enum(['snip', 'magnitude', 'random']).default('snip'),
  /** Seed of the random scores (the random criterion, and magnitude's tie-break on the zero-initialised up projection). */
  seed: z.number().int().nonnegative().default(0),
});

export type SparseAdapterConfig = z.output<typeof sparseAdapterConfigSchema>;
