import type { z } from 'zod';
import type { ModelInfo } from '../models/model-info';
import type { Batch, ModelOutput } from '../models/types';
import type { Module } from '../nn/module';
import type { Parameter } from '../nn/parameter';
import type { tf } from '../nn/tf';

/** The version of the method contract; a plugin states which one it implements. */
export const PEFT_METHOD_SPEC_VERSION = 'v1' as const;
export type PeftMethodSpecVersion = typeof PEFT_METHOD_SPEC_VERSION;

/** The survey's taxonomy ("Scaling Down to Scale Up", Lialin et al., §3, Figure 2). */
export const METHOD_KINDS = ['additive', 'selective', 'reparametrization', 'hybrid'] as const;
export type MethodKind = (typeof METHOD_KINDS)[number];

/**
 * A slot a method occupies on the model, used to detect conflicts between composed methods.
 * - `wrap`: the method replaced the module at `path` with a wrapper holding it. Two wraps of the
 *   same path compose (wrapper of wrapper, in application order).
 * - `slot`: the method filled a named extension slot (`<path>.prefix`, `<path>.prompt`,
 *   `<path>.layerRunner`); two methods filling the same slot conflict.
 * - `train`: the method made an existing parameter (or part of it) trainable. Two methods training
 *   the same parameter compose; they share one optimizer state.
 */
export interface SlotClaim {
  kind: 'wrap' | 'slot' | 'train';
  path: string;
}

/** Passed to `apply`: where the method runs and how to name what it creates. */
export interface ApplyContext {
  /** The adapter name this application belongs to (HF PEFT's `adapter_name`, default 'default'). */
  adapterName: string;
  /**
   * What the model says about itself (sizes, task, where its slots are); undefined for a module
   * tree that does not describe itself. Use `requireModelInfo(context, method)` where a method needs it.
   */
  model?: ModelInfo;
  /** The methods applied before this one in the same adapter (a gate finds what it gates here). */
  earlier?: readonly AppliedMethod[];
}

/** What `calibrate` gets: batches and a way to run the model on them. */
export interface CalibrationContext {
  batches: readonly Batch[];
  /** Forward + task loss of the current model on a batch, recordable by tf.grads. */
  loss(batch: Batch): tf.Scalar;
  /** Plain forward. */
  forward(batch: Batch): ModelOutput;
}

/** Passed to `afterStep`. */
export interface StepInfo {
  /** Optimizer steps done so far (1 after the first). */
  step: number;
  totalSteps: number;
  /** Gradients of this step (after transforms and clipping), keyed by parameter; valid during the call only. */
  gradients: ReadonlyMap<Parameter, tf.Tensor>;
}

/** The result of applying a method to a model: what it trains, its hooks, merge and state. */
export interface AppliedMethod {
  /** The method's registered name. */
  readonly name: string;
  /** The parameters this method trains (created or unfrozen). */
  parameters(): Parameter[];
  /** The slots it occupies; see SlotClaim. */
  readonly claims: readonly SlotClaim[];
  /** Runs before training on a few batches (Fisher scores, masks, importance). */
  calibrate?(context: CalibrationContext): Promise<void> | void;
  /** An extra loss term, called inside the recorded loss closure (e.g. DiffPruning's L0). */
  regularization?(): tf.Scalar;
  /** Rewrites gradients before the optimizer (sparse masks, ChildTuning). Returns new tensors or the same ones. */
  transformGradients?(gradients: Map<Parameter, tf.Tensor>): Map<Parameter, tf.Tensor>;
  /** Runs after each optimizer step (Mixout resets, AdaLoRA budget, mask updates). */
  afterStep?(info: StepInfo): void;
  /** Folds the method into the base weights. Absent means "cannot merge" (a typed error at the PeftModel). */
  merge?(): void;
  /** Whether merge can run now (e.g. false once a gate scales the contribution). Default: merge is present. */
  canMerge?(): boolean;
  /** Undoes merge. */
  unmerge?(): void;
  /** Turns the method's effect on or off without removing it. */
  setEnabled?(enabled: boolean): void;
  /** The method's tensors, keyed relative to the modules it owns (`<module path>.<name>`). Caller must not dispose. */
  state(): Record<string, tf.Tensor>;
  /** Loads tensors produced by `state()`; shape or key mismatch is a 'checkpoint-mismatch' error. */
  load(state: Record<string, tf.Tensor>): void;
  /** Removes the method from the model, restoring the original modules and trainable flags. */
  remove?(): void;
  /**
   * The method's tensors and config in HF PEFT's own file format (its `adapter_config.json` fields
   * and `adapter_model.safetensors` key names), for methods HF PEFT has. Tensors belong to the caller.
   */
  exportHf?(): HfAdapterFiles;
  /** Loads tensors keyed as `exportHf` writes them; mismatch is a 'checkpoint-mismatch' error. */
  loadHf?(tensors: Record<string, tf.Tensor>): void;
}

/** One adapter in HF PEFT's file format: what `AppliedMethod.exportHf` returns. */
export interface HfAdapterFiles {
  /** The content of HF PEFT's `adapter_config.json` (including `peft_type`). */
  config: Record<string, unknown>;
  /** The tensors of `adapter_model.safetensors`, under HF PEFT's key names. */
  tensors: Record<string, tf.Tensor>;
}

/** How a method reads HF PEFT's `adapter_config.json`, for methods that own that format. */
export interface HfAdapterFormat<Schema extends z.ZodType = z.ZodType> {
  /** HF PEFT's `peft_type` (`LORA`, `IA3`, ...). */
  peftType: string;
  /** Turns HF PEFT's config into this method's config (validated afterwards by the schema). */
  configFromHf(hfConfig: Record<string, unknown>): z.input<Schema>;
}

/** A method definition: what `definePeftMethod` takes. */
export interface PeftMethodDefinition<Schema extends z.ZodType = z.ZodType> {
  specificationVersion: PeftMethodSpecVersion;
  /** Registered name. Third parties namespace theirs: `acme/vera`. */
  name: string;
  /** The npm package that provides it (used in manifests and "unknown method" errors). */
  packageName: string;
  /** The providing package's version, recorded in saved manifests when given. */
  packageVersion?: string;
  /** The survey's taxonomy class. */
  kind: MethodKind;
  /** One-line description for reports and `--help`. */
  description?: string;
  /** Config schema with defaults; the config type is inferred from it. */
  configSchema: Schema;
  /** Applies the method to a model (mutating it: wrapping and selecting modules). */
  apply(model: Module<any, any>, config: z.output<Schema>, context: ApplyContext): AppliedMethod;
  /** Present when the method can read HF PEFT's adapter files (its applied form then has `exportHf`/`loadHf`). */
  hf?: HfAdapterFormat<Schema>;
}

/** A configured method ready to apply: what `lora({ r: 8 })` returns. */
export interface MethodConfig<Config = unknown> {
  readonly method: PeftMethod<any>;
  readonly config: Config;
}

/**
 * A method plugin: the definition, plus callable to make a validated configuration
 * (`lora({ r: 8 })`). Made by `definePeftMethod`.
 */
export type PeftMethod<Schema extends z.ZodType = z.ZodType> = PeftMethodDefinition<Schema> & {
  (config?: z.input<Schema>): MethodConfig<z.output<Schema>>;
  /** Validates a config, throwing an 'invalid-config' PeftError naming the field, value and what is allowed. */
  parseConfig(config: unknown): z.output<Schema>;
};
