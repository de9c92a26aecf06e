import { z } from '@peftjs/core';
import { bottleneckFields } from '../shared/bottleneck-config';

/**
 * Pfeiffer adapters (Pfeiffer et al., "AdapterFusion: Non-Destructive Task Composition for Transfer
 * Learning", 2021, §3 and Figure 2): one bottleneck after the FFN of every block. Defaults follow
 * AdapterHub's `SeqBnConfig` (reduction factor 16, ReLU).
 */
export const pfeifferConfigSchema = z.strictObject({ ...bottleneckFields });

export type PfeifferConfig = z.output<typeof pfeifferConfigSchema>;
