import { ROLE_GROUPS, targetSelectorSchema, z } from '@peftjs/core';

/** Config of the channel-scale method. Every field has a default. */
export const channelScaleConfigSchema = z.strictObject({
  /** Which linears get a scale vector (roles, path globs, layers, excludes). Default: every linear of the blocks. */
  targets: targetSelectorSchema.default({ roles: [...ROLE_GROUPS['all-linear']!] }),
  /** Initial value of every scale entry; 1 leaves the model unchanged at init. */
  init: z.number().finite().default(1),
});

export type ChannelScaleConfig = z.output<typeof channelScaleConfigSchema>;
