import { ACTIVATIONS, z } from '@peftjs/core';
import { bottleneckFields } from '../shared/bottleneck-config';

/**
 * Compacter (Karimi Mahabadi et al., "Compacter: Efficient Low-Rank Hypercomplex Adapter Layers",
 * 2021): adapters whose projections are parameterized hypercomplex multiplication (PHM) layers,
 * W = Σ_{i=1}^{n} A_i ⊗ B_i (§3, Eq. 3).
 * - `compacter`: A_i shared across layers, B_i = s_i·t_iᵀ of rank `phmRank` (§3.2, Eq. 5), after
 *   the attention and the FFN sublayer;
 * - `compacter++`: the same with only the adapter after the FFN (§3.3 "Compacter++");
 * - `phm`: the PHM-Adapter, A_i per layer and B_i full (§3.1).
 */
export const compacterConfigSchema = z.strictObject({
  ...bottleneckFields,
  /** compacter, compacter++ or phm (PHM-Adapter). */
  variant: z.enum(['compacter', 'compacter++', 'phm']).default('compacter'),
  /** The number of Kronecker summands n (also the size of each A_i); must divide the hidden size and the bottleneck width. */
  phmDimension: z.number().int().min(1).default(4),
  /** Rank of each B_i = s_i·t_iᵀ (Compacter's rank 1); ignored by the phm variant. */
  phmRank: z.number().int().min(1).default(1),
  nonLinearity: z.enum(ACTIVATIONS).default('gelu_new'),
});

export type CompacterConfig = z.output<typeof compacterConfigSchema>;
