import { z } from '@peftjs/core';
import { allocationSchema, densitySchema, sparseTargetsShape } from '../shared/config';

/** Config of ChildTuning. Every field has a default. */
export const childTuningConfigSchema = z.strictObject({
  ...sparseTargetsShape,
  /**
   * 'D' (default): a child network fixed before training by Fisher information, trained as a sparse
   * delta; 'F': every target entry trains, each step's gradient masked by a fresh Bernoulli(p) draw.
   */
  mode: z.enum(['D', 'F']).default('D'),
  /** The reserve ratio p (p_D or p_F). Default 0.3 (Xu et al. search {0.1, 0.2, 0.3} for D and {0.2, 0.3, 0.4} for F). */
  density: densitySchema(0.3),
  /** ChildTuning-D: how k spreads over the tensors (see allocation). */
  allocation: allocationSchema,
  /** ChildTuning-D: examples the Fisher is estimated on (one backward each). Default 256. */
  maxExamples: z.number().int().positive().default(256),
});
export type ChildTuningConfig = z.output<typeof childTuningConfigSchema>;
