import { z } from '@peftjs/core';

/** The LayerNorm positions, by role: `norm.<position>`. */
export const NORM_POSITIONS = ['attention', 'ffn', 'final', 'embedding'] as const;
export type NormPosition = (typeof NORM_POSITIONS)[number];

/** Which LayerNorm tensors train. */
export const LN_TENSORS = ['gamma', 'beta', 'both'] as const;

/** Config of LayerNorm tuning. Every field has a default. */
export const lnTuningConfigSchema = z.strictObject({
  /**
   * 'gamma' (the scale, BitFit+'s g_LN), 'beta' (the shift, b_LN) or 'both' (default, as HF PEFT's
   * LN tuning trains the whole LayerNorm).
   */
  tensors: z.enum(LN_TENSORS).default('both'),
  /**
   * Which LayerNorms, by role: 'attention' = norm.attention (BitFit+'s LN1, after the attention
   * sublayer), 'ffn' = norm.ffn (LN2, after the MLP), 'final' = norm.final (pre-LN models),
   * 'embedding' = norm.embedding. Default all four; those a model lacks are skipped, but at least
   * one must exist.
   */
  norms: z.array(z.enum(NORM_POSITIONS)).min(1).default([...NORM_POSITIONS]),
  /** Train the task head in full, as the papers do. Its entries are counted apart from the norms. */
  trainHead: z.boolean().default(true),
  /**
   * HF PEFT's `target_modules` (what an LN_TUNING `adapter_config.json` holds): a regular
   * expression that must match a whole HF module name, or a list of names each matching a module
   * name or its last components (`LayerNorm`, `ln_1`). When set it chooses the norms instead of
   * `norms`; every module it matches must be a LayerNorm. Needs a model with HF module names.
   */
  hfTargetModules: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** HF PEFT's `exclude_modules`, applied to `hfTargetModules` as HF applies it. */
  hfExcludeModules: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  /**
   * HF PEFT's `modules_to_save` (HF adds `classifier` and `score` to every SEQ_CLS adapter). When
   * set it decides `trainHead`: the head trains when an entry names one of its modules. An entry
   * naming a module outside the head is a 'not-implemented' error; one naming no module is
   * ignored, as HF ignores `score` on BERT.
   */
  hfModulesToSave: z.array(z.string().min(1)).optional(),
});

export type LnTuningConfig = z.output<typeof lnTuningConfigSchema>;
export type LnTuningConfigInput = z.input<typeof lnTuningConfigSchema>;
