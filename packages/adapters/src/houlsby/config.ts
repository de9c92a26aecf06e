import { ACTIVATIONS, z } from '@peftjs/core';
import { bottleneckFields, sublayerSchema } from '../shared/bottleneck-config';

/**
 * Houlsby adapters (Houlsby et al., "Parameter-Efficient Transfer Learning for NLP", 2019, §2.1,
 * Figure 2): a bottleneck after the attention and after the FFN sublayer of every block. Defaults
 * follow AdapterHub's `DoubleSeqBnConfig` (reduction factor 16, swish).
 */
export const houlsbyConfigSchema = z.strictObject({
  ...bottleneckFields,
  nonLinearity: z.enum(ACTIVATIONS).default('silu'),
  /** Which sublayers get an adapter after them. */
  sublayers: z.array(sublayerSchema).min(1).default(['attention', 'ffn']),
});

export type HoulsbyConfig = z.output<typeof houlsbyConfigSchema>;
