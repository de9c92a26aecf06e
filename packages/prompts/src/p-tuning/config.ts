import { z } from '@peftjs/core';
import { modulesToSaveSchema, numVirtualTokensSchema } from '../shared/config-fields';

/**
 * The prompt encoder (HF's `encoder_reparameterization_type`): 'mlp' (default, HF's recommended
 * three-layer ReLU MLP), 'lstm' (the paper's bidirectional LSTM followed by a two-layer ReLU MLP), or
 * 'table': the encoder's outputs stored as a plain table, which is what HF PEFT saves and loads
 * (its inference mode); a file loaded from HF is a 'table'.
 */
export const P_TUNING_ENCODERS = ['mlp', 'lstm', 'table'] as const;

/** Config of P-tuning (Liu et al., "GPT Understands, Too", §3). Every field has a default. */
export const pTuningConfigSchema = z
  .strictObject({
    numVirtualTokens: numVirtualTokensSchema.default(10),
    encoder: z.enum(P_TUNING_ENCODERS).default('mlp'),
    /** Hidden size of the prompt encoder (HF's `encoder_hidden_size`; default: the model's hidden size). */
    encoderHiddenSize: z.number().int().min(1).optional(),
    /** Stacked LSTM layers (HF's `encoder_num_layers`; the MLP always has three Linears, as in HF). */
    encoderNumLayers: z.number().int().min(1).max(8).default(2),
    /** Dropout between LSTM layers while training (HF's `encoder_dropout`). */
    encoderDropout: z.number().min(0).lt(1).default(0),
    /** Std of the normal init of the encoder's input table (HF's nn.Embedding: N(0, 1)). */
    initStd: z.number().positive().default(1),
    seed: z.number().int().min(0).default(0),
    modulesToSave: modulesToSaveSchema,
  })
  .superRefine((config, context) => {
    if (config.encoder !== 'lstm' && config.encoderNumLayers !== 2) {
      context.addIssue({ code: 'custom', path: ['encoderNumLayers'], message: `encoderNumLayers applies to the 'lstm' encoder, not '${config.encoder}'`, input: config.encoderNumLayers });
    }
    if (config.encoder === 'table' && config.encoderHiddenSize !== undefined) {
      context.addIssue({ code: 'custom', path: ['encoderHiddenSize'], message: "the 'table' encoder has no hidden size", input: config.encoderHiddenSize });
    }
  });

export type PTuningConfig = z.output<typeof pTuningConfigSchema>;
export type PTuningConfigInput = z.input<typeof pTuningConfigSchema>;
