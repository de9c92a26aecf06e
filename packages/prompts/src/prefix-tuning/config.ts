import { z } from '@peftjs/core';
import { modulesToSaveSchema, numVirtualTokensSchema } from '../shared/config-fields';

/** Fields every prefix method has. */
export const prefixFields = {
  /** Prefix rows P per layer (HF's `num_virtual_tokens`). */
  numVirtualTokens: numVirtualTokensSchema.default(10),
  /** Std of the normal init of the prefix rows (HF's nn.Embedding: N(0, 1)). */
  initStd: z.number().positive().default(1),
  /** Layers that get a prefix (default: all, as HF PEFT; HF's files need all). */
  layers: z.array(z.number().int().min(0)).min(1).optional(),
  /** Seed of the init. */
  seed: z.number().int().min(0).default(0),
  modulesToSave: modulesToSaveSchema,
};

/**
 * Config of prefix tuning (Li & Liang, "Prefix-Tuning: Optimizing Continuous Prompts for Generation", §4).
 * Every field has a default.
 */
export const prefixTuningConfigSchema = z
  .strictObject({
    ...prefixFields,
    /**
     * Reparametrize the prefix by an MLP while training (Li & Liang §4.3, HF's `prefix_projection`):
     * P[i, :] = MLP(P'[i, :]) with P' ∈ R^{P×d} and MLP = Linear(d, e)·tanh·Linear(e, layers·2·d).
     * HF PEFT's files (save with format 'hf') hold the computed prefix, which loads as a plain prefix.
     */
    prefixProjection: z.boolean().default(false),
    /** Hidden size e of the reparametrization MLP (HF's `encoder_hidden_size`; default: the model's hidden size). */
    encoderHiddenSize: z.number().int().min(1).optional(),
  })
  .superRefine((config, context) => {
    if (config.encoderHiddenSize !== undefined && !config.prefixProjection) {
      context.addIssue({ code: 'custom', path: ['encoderHiddenSize'], message: 'encoderHiddenSize applies with prefixProjection: true', input: config.encoderHiddenSize });
    }
  });

export type PrefixTuningConfig = z.output<typeof prefixTuningConfigSchema>;
export type PrefixTuningConfigInput = z.input<typeof prefixTuningConfigSchema>;
