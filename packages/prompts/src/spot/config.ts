import { z } from '@peftjs/core';
import { modulesToSaveSchema, numVirtualTokensSchema } from '../shared/config-fields';

/**
 * Config of SPoT (Vu et al., "SPoT: Better Frozen Model Adaptation through Soft Prompt Transfer", §2):
 * prompt tuning on a target task started from a prompt trained on a source task. `sourceRows` is the
 * source prompt [P, hidden] (read one with `readSourcePrompt`, pick one with `chooseSpotSource`);
 * without it the prompt starts from sampled vocabulary, i.e. plain prompt tuning.
 */
export const spotConfigSchema = z.strictObject({
  numVirtualTokens: numVirtualTokensSchema.default(10),
  /** The source prompt's rows [P, hidden]. */
  sourceRows: z.array(z.array(z.number()).min(1)).min(1).optional(),
  /** Name of the source task, kept in the manifest for the record. */
  sourceName: z.string().min(1).optional(),
  seed: z.number().int().min(0).default(0),
  modulesToSave: modulesToSaveSchema,
}).superRefine((config, context) => {
  if (config.sourceRows && config.sourceRows.length !== config.numVirtualTokens) {
    context.addIssue({ code: 'custom', path: ['sourceRows'], message: `the source prompt has ${config.sourceRows.length} rows; numVirtualTokens is ${config.numVirtualTokens}`, input: config.sourceRows.length });
  }
  if (config.sourceRows && new Set(config.sourceRows.map((row) => row.length)).size !== 1) {
    context.addIssue({ code: 'custom', path: ['sourceRows'], message: 'the source prompt rows have different lengths', input: config.sourceRows.map((row) => row.length) });
  }
});

export type SpotConfig = z.output<typeof spotConfigSchema>;
export type SpotConfigInput = z.input<typeof spotConfigSchema>;
