import { ACTIVATIONS, targetSelectorSchema, z } from '@peftjs/core';

/** Fields every bottleneck adapter config shares (AdapterHub's `BnConfig` names, camel-cased). */
export const bottleneckFields = {
  /** Hidden size divided by the bottleneck width (AdapterHub's `reduction_factor`). */
  reductionFactor: z.number().positive().default(16),
  /** The bottleneck width m itself; overrides reductionFactor. */
  bottleneckSize: z.number().int().positive().optional(),
  /** The adapter's non-linearity f. */
  nonLinearity: z.enum(ACTIVATIONS).default('relu'),
  /** Layers (block indices) that get adapters; default every layer. */
  layers: z.array(z.number().int().nonnegative()).optional(),
  /** The same as `layers`, in the selector shape other families use (`targets: { layers: [0, 1] }`); `layers` wins when both are given. */
  targets: z.strictObject({ layers: z.array(z.number().int().nonnegative()).optional() }).optional(),
  /** Modules trained in full beside the adapters (e.g. `{ roles: ['head'] }`), as LoRA's `modulesToSave`. */
  modulesToSave: targetSelectorSchema.optional(),
};

/** Which sublayers an adapter goes after or beside. */
export const sublayerSchema = z.enum(['attention', 'ffn']);
export type SublayerName = z.output<typeof sublayerSchema>;
