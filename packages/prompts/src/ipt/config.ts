import { z } from '@peftjs/core';
import { modulesToSaveSchema, numVirtualTokensSchema } from '../shared/config-fields';

/**
 * Config of IPT's downstream stage (Qin et al., "Exploring Universal Intrinsic Task Subspace via
 * Prompt Tuning", §3.2 "intrinsic subspace tuning"): only the intrinsic vector z ∈ R^r trains; the
 * prompt is the frozen decoder's output. The decoder comes from `trainIptAutoencoder` and is put in
 * with `setIptDecoder` (its weights are saved with the adapter, frozen).
 */
export const iptConfigSchema = z.strictObject({
  numVirtualTokens: numVirtualTokensSchema.default(10),
  /** Dimension r of the intrinsic task subspace. */
  intrinsicDim: z.number().int().min(1).max(4096).default(8),
  /** Hidden size of the decoder Linear(r, h)·tanh·Linear(h, P·d). */
  decoderHiddenSize: z.number().int().min(1).default(64),
  seed: z.number().int().min(0).default(0),
  modulesToSave: modulesToSaveSchema,
});

export type IptConfig = z.output<typeof iptConfigSchema>;
export type IptConfigInput = z.input<typeof iptConfigSchema>;
