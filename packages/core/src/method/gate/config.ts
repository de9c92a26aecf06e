import { z } from 'zod';

export const gateConfigSchema = z.strictObject({
  /**
   * The methods of the same adapter whose contributions get a gate, by registered name
   * (`['lora', 'prefix-tuning', 'houlsby']`). Each must be applied before the gate.
   */
  methods: z.array(z.string().min(1)).min(1),
});
export type GateConfig = z.output<typeof gateConfigSchema>;
