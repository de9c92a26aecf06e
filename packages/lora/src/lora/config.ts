import { targetSelectorSchema, z } from '@peftjs/core';

/** How A is initialised; B is always zero, so the model is unchanged at init. */
export const LORA_INITS = ['kaiming-uniform', 'gaussian'] as const;
export type LoraInit = (typeof LORA_INITS)[number];

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** A pattern key: read as a regular expression, so it must compile. */
const patternKey = z.string().min(1).refine(compiles, 'must be a valid regular expression');

/** Default targets: the query and value projections, as in Hu et al. 2022, §7.1. */
export const LORA_DEFAULT_ROLES = ['attention.query', 'attention.value'] as const;

/**
 * Config of LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2022). Field
 * names follow HF PEFT's `LoraConfig` in camelCase; every field has a default.
 */
export const loraConfigSchema = z.strictObject({
  /** Rank r of the update B·A. */
  r: z.number().int().min(1).default(8),
  /** Scale numerator α: the update is multiplied by α/r (or α/√r with useRslora). HF's `lora_alpha`. */
  alpha: z.number().positive().default(8),
  /** Dropout on the input of the low-rank path, active in training mode only. HF's `lora_dropout`. */
  dropout: z.number().min(0).lt(1).default(0),
  /** Which Linear (or Embedding, e.g. role `embedding.token`) modules get an update (roles, path globs, layers, excludes). Default: query and value. */
  targets: targetSelectorSchema.default({ roles: [...LORA_DEFAULT_ROLES] }),
  /**
   * HF PEFT's `target_modules`, matched against the model's HF module names (`model.hfModuleName`):
   * a list of names matching a whole name or its last components (`query`, `attention.self.query`),
   * or one regular expression matching a whole name. When set it replaces `targets`; loading an HF
   * adapter sets it.
   */
  hfTargetModules: z.union([patternKey, z.array(z.string().min(1)).min(1)]).optional(),
  /**
   * Linears trained in full beside LoRA, each as a trainable copy (HF PEFT's `modules_to_save`),
   * typically the task head: `{ roles: ['head'] }`. HF PEFT adds the head for SEQ_CLS on its own;
   * here it is explicit. Default: none.
   */
  modulesToSave: targetSelectorSchema.optional(),
  /**
   * HF PEFT's `layers_to_transform`: keep only targets in these layers (one index or a list). The
   * index is read from the module's HF name as HF PEFT does: the number after the first
   * `<layersPattern>.` (`bert.encoder.layer.1…` → 1, `transformer.h.0…` → 0), or after the first
   * segment followed by a number when `layersPattern` is unset; our path is used for models without
   * HF names. With `hfTargetModules`, names listed in full are kept whatever their layer, as in HF.
   * `targets.layers` is the native way to say the same.
   */
  layersToTransform: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()).min(1)]).optional(),
  /** HF PEFT's `layers_pattern`: the name(s) of the layer list in HF module names (`layer`, `h`); needs `layersToTransform`. */
  layersPattern: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** HF PEFT's `modules_to_save`, matched against HF module names like `hfTargetModules` (`classifier`, `score`); names that match nothing are skipped, as in HF. */
  hfModulesToSave: z.array(z.string().min(1)).optional(),
  /** Scale by α/√r instead of α/r (Kalajdzievski, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA", 2023). */
  useRslora: z.boolean().default(false),
  /**
   * DoRA (Liu et al., "DoRA: Weight-Decomposed Low-Rank Adaptation", 2024): learn a magnitude per
   * output channel besides the low-rank direction update. HF's `use_dora`. Linear targets only.
   */
  useDora: z.boolean().default(false),
  /** A's init: `kaiming-uniform` (HF PEFT's default, bound 1/√in) or `gaussian` (std 1/r, HF's `init_lora_weights="gaussian"`). */
  init: z.enum(LORA_INITS).default('kaiming-uniform'),
  /**
   * Per-target ranks that differ from r, keyed by a pattern over module names (HF PEFT semantics):
   * a key matches a module when the module's path (or HF name) ends with it at a dot boundary, read
   * as a regular expression (`layers.0.attention.query`, `layers\\.[01]\\..*query`); a key starting
   * with `^` must match the whole name. The first matching key wins.
   */
  rankPattern: z.record(patternKey, z.number().int().min(1)).default({}),
  /** Per-target α values, keyed like `rankPattern`. */
  alphaPattern: z.record(patternKey, z.number().positive()).default({}),
})
  .refine((config) => config.layersPattern === undefined || config.layersToTransform !== undefined, { message: 'layersPattern needs layersToTransform (as in HF PEFT)', path: ['layersPattern'] })
  .refine((config) => config.layersToTransform === undefined || typeof config.hfTargetModules !== 'string', {
    message: 'layersToTransform cannot be used when hfTargetModules is a regular expression (as in HF PEFT)',
    path: ['layersToTransform'],
  });

export type LoraConfigInput = z.input<typeof loraConfigSchema>;
export type LoraConfig = z.output<typeof loraConfigSchema>;

/** The scale s of the update s·B·A: α/r, or α/√r with rsLoRA. */
export function loraScaling(alpha: number, r: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/**
 * The value of the first pattern key that matches one of `names` (HF PEFT's `get_pattern_key`:
 * `^`-anchored keys match from the start, others match a dot-bounded suffix), or undefined.
 */
export function matchPattern<T>(pattern: Readonly<Record<string, T>>, names: readonly string[]): T | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    const regex = key.startsWith('^') ? new RegExp(`${key}$`) : new RegExp(`(?:^|.*\\.)(?:${key})$`);
    if (names.some((name) => regex.test(name))) return value;
  }
  return undefined;
}
