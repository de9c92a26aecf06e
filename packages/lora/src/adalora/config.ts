import { targetSelectorSchema, z } from '@peftjs/core';

/**
 * Config of AdaLoRA (Zhang et al., "Adaptive Budget Allocation for Parameter-Efficient
 * Fine-Tuning", ICLR 2023), with HF PEFT's names in the comments. Every field has a default.
 */
export const adaloraConfigSchema = z
  .strictObject({
    /** Initial rank of every matrix (`init_r`). */
    initR: z.number().int().positive().default(12),
    /** Average rank per matrix at the end (`target_r`): the final budget is targetR × matrices. */
    targetR: z.number().int().positive().default(8),
    /** `lora_alpha`; the update is scaled by alpha / r as HF does (alpha / (r + 1e-5)). */
    alpha: z.number().positive().default(8),
    /** Dropout on the adapter's input (`lora_dropout`). */
    dropout: z.number().min(0).lt(1).default(0),
    /** Which linears (`target_modules`); default query and value. */
    targets: targetSelectorSchema.default({ roles: ['attention.query', 'attention.value'] }),
    /** Steps of warm-up at the initial budget (`tinit`). */
    tinit: z.number().int().nonnegative().default(0),
    /** Final steps at the target budget with the mask fixed (`tfinal`). */
    tfinal: z.number().int().nonnegative().default(0),
    /** Prune every deltaT steps between tinit and totalSteps − tfinal (`deltaT`). */
    deltaT: z.number().int().positive().default(1),
    /** Smoothing of the sensitivity (`beta1`). */
    beta1: z.number().min(0).lt(1).default(0.85),
    /** Smoothing of the uncertainty (`beta2`). */
    beta2: z.number().min(0).lt(1).default(0.85),
    /** Weight of the orthogonality regularizer (`orth_reg_weight`). */
    orthRegWeight: z.number().nonnegative().default(0.5),
    /**
     * The norm in the orthogonality regularizer: `frobenius` (‖XᵀX − I‖_F, HF PEFT's
     * `torch.norm(p="fro")`, the default) or `squared-frobenius` (‖XᵀX − I‖²_F, the paper's Eq. 4).
     */
    orthNorm: z.enum(['frobenius', 'squared-frobenius']).default('frobenius'),
    /** Length of the schedule (`total_step`); default the trainer's total steps. */
    totalSteps: z.number().int().positive().optional(),
    /** HF PEFT's `layers_to_transform`: keep only targets in these layers (HF's layer-index rule; see LoRA's `layersToTransform`). */
    layersToTransform: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()).min(1)]).optional(),
    /** HF PEFT's `layers_pattern`: the name(s) of the layer list in HF module names (`layer`, `h`); needs `layersToTransform`. */
    layersPattern: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** HF PEFT's `target_modules` (HF module names, a list of names/suffixes or one regular expression); replaces `targets` when set. */
    hfTargetModules: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /**
     * HF PEFT's `rank_pattern` for files saved after pruning: per HF module name, which of the initR
     * triplets the file holds (the others start pruned).
     */
    rankPattern: z.record(z.string(), z.array(z.boolean())).optional(),
    /** Linears trained in full beside the adapter, typically the task head (`modules_to_save`). */
    modulesToSave: targetSelectorSchema.optional(),
    /**
     * HF PEFT's `modules_to_save`, matched against HF module names (`classifier`, `score`); names that
     * match nothing are skipped, as in HF. Loading an HF adapter sets it; it replaces `modulesToSave`.
     */
    hfModulesToSave: z.array(z.string().min(1)).optional(),
  })
  .refine((config) => config.targetR <= config.initR, { message: 'targetR must not exceed initR', path: ['targetR'] })
  .refine((config) => config.layersPattern === undefined || config.layersToTransform !== undefined, { message: 'layersPattern needs layersToTransform (as in HF PEFT)', path: ['layersPattern'] })
  .refine((config) => config.layersToTransform === undefined || typeof config.hfTargetModules !== 'string', {
    message: 'layersToTransform cannot be used when hfTargetModules is a regular expression (as in HF PEFT)',
    path: ['layersToTransform'],
  });

export type AdaloraConfig = z.output<typeof adaloraConfigSchema>;
export type AdaloraConfigInput = z.input<typeof adaloraConfigSchema>;
