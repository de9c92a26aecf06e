import { z } from '@peftjs/core';
import { prefixFields } from '../prefix-tuning/config';

/**
 * Config of P-tuning v2 (Liu et al., "P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning
 * Universally Across Scales and Tasks", §3): deep prompts at every layer, no reparametrization, and
 * the classification head trained (default `modulesToSave: { roles: ['head'] }`, §3.3 "classification head").
 */
export const pTuningV2ConfigSchema = z.strictObject({
  ...prefixFields,
  modulesToSave: prefixFields.modulesToSave.default({ roles: ['head'] }),
});

export type PTuningV2Config = z.output<typeof pTuningV2ConfigSchema>;
export type PTuningV2ConfigInput = z.input<typeof pTuningV2ConfigSchema>;
