import { z } from '@peftjs/core';
import { allocationSchema, densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of DiffPruning. Every field has a default. */
export const diffPruningConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /** Target density after the magnitude projection (k = ⌊N·p⌋). Default 0.005 (0.5%, as Guo et al.). */
  density: densitySchema(0.005),
  allocation: allocationSchema,
  /** λ, the weight of the expected-L0 penalty Σ_i σ(α_i − β·log(−l/r)). Default 1.25e-7 (Guo et al.'s BERT setting). */
  l0Weight: z.number().min(0).default(1.25e-7),
  /** Initial log α of every mask entry (high: the relaxed mask starts near 1). Default 5. */
  alphaInit: z.number().default(5),
  /** Hard-concrete temperature β. Default 1. */
  temperature: z.number().positive().default(1),
  /** Stretch interval (l, r) of the hard concrete, l < 0 < 1 < r. Default (−1.5, 1.5). */
  stretch: z.tuple([z.number().lt(0), z.number().gt(1)]).default([-1.5, 1.5]),
  /** Guo et al.'s structured variant (§3.2): one extra mask per target tensor, z_i·z_g, with the group-aware expected L0. */
  groupPenalty: z.boolean().default(false),
  /** Project to the target density after the trainer's last step (otherwise call `project()`). Default true. */
  projectAtEnd: z.boolean().default(true),
});
export type DiffPruningConfig = z.output<typeof diffPruningConfigSchema>;
