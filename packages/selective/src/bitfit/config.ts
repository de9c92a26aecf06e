import { z } from '@peftjs/core';

/**
 * The subsets of BitFit (Ben-Zaken, Ravfogel and Goldberg, "BitFit: Simple Parameter-efficient
 * Fine-tuning for Transformer-based Masked Language-models", 2021, §2 and its baselines) and of the BitFit+
 * replication (Weng, Kerrigan and Yang, "BitFit+: Fine-tuning bias and gamma parameters", §3.1
 * items 1, 2, 4, 5 and §3.2 ablations 1, 2, 4). See the package README for the mapping of the
 * papers' names (b_q, b_m2, b_LN1, ...) to module roles.
 */
export const BITFIT_SUBSETS = [
  'all',
  'query-and-intermediate',
  'all-except-query-and-intermediate',
  'random-entries',
  'layernorm',
  'random-weight-entries',
  'random-rows-columns',
] as const;
export type BitFitSubset = (typeof BITFIT_SUBSETS)[number];

/** Subsets drawn at random, which take a `budget` and a `seed`. */
export const RANDOM_BITFIT_SUBSETS: readonly BitFitSubset[] = ['random-entries', 'random-weight-entries', 'random-rows-columns'];

/** Config of the BitFit method. Every field has a default. */
export const bitFitConfigSchema = z
  .strictObject({
    /**
     * Which entries train. 'all' (default): every bias term, LayerNorm shifts included;
     * 'query-and-intermediate': b_q and b_m2; 'all-except-query-and-intermediate'; 'random-entries':
     * `budget` bias entries drawn uniformly; 'layernorm': b_LN1 and b_LN2; 'random-weight-entries'
     * and 'random-rows-columns': the papers' non-bias baselines at `budget` weight-matrix entries.
     */
    subset: z.enum(BITFIT_SUBSETS).default('all'),
    /**
     * Entries the random subsets train. Default: as many as b_q + b_m2 for 'random-entries'
     * (BitFit+ §3.2 ablation 1), as many as 'all' for the two weight baselines (BitFit+ §3.1 items 4, 5).
     */
    budget: z.number().int().positive().optional(),
    /** Seed of the random subsets. */
    seed: z.number().int().min(0).default(0),
    /**
     * Only the blocks with these indices (a `layers.<i>` path segment); embeddings, pooler and final
     * norms are then left out. Default: the whole model. Used by layer-wise designs such as S4.
     */
    layers: z.array(z.number().int().min(0)).min(1).optional(),
    /** Train the task head in full, as both papers do. Its entries are counted apart from the subset. */
    trainHead: z.boolean().default(true),
    /** Give bias-less Linears of the blocks and pooler a zero bias to train (their outputs are unchanged at init). */
    addZeroBiases: z.boolean().default(false),
  })
  .superRefine((config, context) => {
    if (config.budget !== undefined && !RANDOM_BITFIT_SUBSETS.includes(config.subset)) {
      context.addIssue({ code: 'custom', path: ['budget'], message: `budget applies to the subsets ${RANDOM_BITFIT_SUBSETS.join(', ')}, not '${config.subset}'`, input: config.budget });
    }
  });

export type BitFitConfig = z.output<typeof bitFitConfigSchema>;
export type BitFitConfigInput = z.input<typeof bitFitConfigSchema>;
