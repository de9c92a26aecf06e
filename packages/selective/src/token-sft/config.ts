import { z } from '@peftjs/core';

/**
 * Config of token-position selective fine-tuning (Simoulin et al., "Memory-Efficient Selective
 * Fine-Tuning", §2). Every field has a default.
 */
export const tokenSftConfigSchema = z.strictObject({
  /**
   * Positions per sequence that carry gradient at each training step, position 0 ([CLS]) included
   * (the paper's k; §3.1 uses 16). Sequences with fewer real tokens select all of them.
   */
  k: z.number().int().positive().default(16),
  /** Seed of the uniform position draw; each training forward draws the next positions from it. */
  seed: z.number().int().min(0).default(0),
  /**
   * 'mean' (default): the pooler reads the mean of the selected last-layer states in training and
   * of all real last-layer states in evaluation (the paper's Eq. 1), then its dense + tanh.
   * 'cls': keep the model's own pooling (position 0 is always selected, so it has gradient).
   */
  pooling: z.enum(['mean', 'cls']).default('mean'),
  /**
   * 'all' (default): the method trains every parameter except the embeddings (full fine-tuning
   * through k positions). 'none': it trains nothing itself and only changes how gradient flows;
   * the methods composed with it (LoRA, BitFit, ...) decide what trains.
   */
  trainParameters: z.enum(['all', 'none']).default('all'),
  /**
   * With trainParameters 'all', train the embedding tables too. The paper updates 100% of the
   * parameters (Table 2, "Param." column), embeddings included; off by default here because
   * embedding rows get gradient only from the k selected tokens of each step.
   */
  trainEmbeddings: z.boolean().default(false),
});

export type TokenSftConfig = z.output<typeof tokenSftConfigSchema>;
export type TokenSftConfigInput = z.input<typeof tokenSftConfigSchema>;
