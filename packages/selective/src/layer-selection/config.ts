import { z } from '@peftjs/core';

/** Which parts of the chosen blocks train. */
export const LAYER_SELECTION_PARTS = ['block', 'attention', 'ffn'] as const;

/** Config of layer selection. Every field has a default. */
export const layerSelectionConfigSchema = z.strictObject({
  /**
   * The blocks that train: `{ top: k }` (the k closest to the output, default k = 1), `{ bottom: k }`
   * (the k closest to the input) or explicit layer indices.
   */
  layers: z.union([z.strictObject({ top: z.number().int().positive() }), z.strictObject({ bottom: z.number().int().positive() }), z.array(z.number().int().min(0)).min(1)]).default({ top: 1 }),
  /**
   * 'block' (default): every parameter of the chosen blocks, norms included; 'attention': only the
   * attention projections (roles attention.*, weights and biases); 'ffn': only the FFN matrices (ffn.*).
   */
  parts: z.enum(LAYER_SELECTION_PARTS).default('block'),
  /** Train the task head in full (always-trainable head, as in top-layer fine-tuning baselines). */
  trainHead: z.boolean().default(true),
});

export type LayerSelectionConfig = z.output<typeof layerSelectionConfigSchema>;
export type LayerSelectionConfigInput = z.input<typeof layerSelectionConfigSchema>;
