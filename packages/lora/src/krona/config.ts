import { targetSelectorSchema, z } from '@peftjs/core';

/** Default targets: the query and value projections, as for LoRA. */
export const KRONA_DEFAULT_ROLES = ['attention.query', 'attention.value'] as const;

/**
 * Config of KronA (Edalati et al., "KronA: Parameter Efficient Tuning with Kronecker Adapter", 2022).
 * Every field has a default.
 */
export const kronaConfigSchema = z.strictObject({
  /**
   * Rows a1 of the factor A [a1, a2]; B then has in/a1 rows. Must divide every target's input size.
   * Default: per target, the largest divisor of `in` not above √in (the most square factorisation).
   */
  inFactor: z.number().int().min(1).optional(),
  /** Columns a2 of A; B then has out/a2 columns. Must divide every target's output size. Default: like `inFactor`, over `out`. */
  outFactor: z.number().int().min(1).optional(),
  /** The scale s of the update s·(A ⊗ B) (the paper's scaling factor). */
  scale: z.number().positive().default(1),
  /** Which Linear modules get an update (roles, path globs, layers, excludes). Default: query and value. */
  targets: targetSelectorSchema.default({ roles: [...KRONA_DEFAULT_ROLES] }),
  /** Linears trained in full beside the method, typically the task head (`{ roles: ['head'] }`, HF's modules_to_save), as trainable copies. */
  modulesToSave: targetSelectorSchema.optional(),
});

export type KronaConfigInput = z.input<typeof kronaConfigSchema>;
export type KronaConfig = z.output<typeof kronaConfigSchema>;

/** The largest divisor of n that is at most √n: with n / it, the most square factorisation of n. */
export function squarestFactor(n: number): number {
  let best = 1;
  for (let d = 1; d * d <= n; d++) if (n % d === 0) best = d;
  return best;
}
