import { PeftError } from '../errors/peft-error';
import { modelInfoOf } from '../models/model-info';
import type { ModelInputs, ModelOutput, TaskModel, TaskType } from '../models/types';
import type { Parameter } from '../nn/parameter';
import type { tf } from '../nn/tf';
import { BaseSnapshot } from '../report/base-snapshot';
import { formatParameterReport } from '../report/format-parameter-report';
import { parameterReport, type ParameterReport } from '../report/parameter-report';
import { DEFAULT_ADAPTER_NAME, type AdapterMethodEntry } from './adapter-entry';
import { saveAdapter, type SaveAdapterOptions } from './adapter-files';
import { ClaimLedger } from './claim-ledger';
import { mergedError, requireSetEnabled, validateApplied, validateMethodConfigs, withRollback } from './composition-checks';
import type { AnyModule } from './erased-types';
import { canMergeEntry, mergeInOrder, requireMergeable } from './merge-transaction';
import { forwardMixedBatch, type MixedBatchHost } from './mixed-batch';
import { ParameterBackup } from './parameter-backup';
import type { AppliedMethod, MethodConfig } from './types';

export { DEFAULT_ADAPTER_NAME, type AdapterMethodEntry } from './adapter-entry';

export interface PeftOptions {
  /** Name of the adapter the methods form (HF PEFT's `adapter_name`). Default 'default'. */
  adapterName?: string;
  /**
   * Keep a Float32 copy of the base parameters, so the report can count changed entries.
   * Default true; turn off for large models where the copy costs too much memory.
   */
  trackChanges?: boolean;
}

/**
 * Applies methods to a model, in order, and returns the PeftModel. The whole base model is frozen
 * first (as HF PEFT does); each method then creates or unfreezes what it trains. Two methods that
 * fill the same slot are a 'composition-conflict' error (the model is restored where the methods
 * can be removed); two wrapping the same module compose as wrapper of wrapper in this order.
 *
 * @example
 * const tuned = peft(model, [lora({ r: 8 }), bitfit()]);
 * tuned.trainableParameters(); // what the optimizer updates
 */
export function peft<M extends AnyModule>(model: M, methods: readonly MethodConfig[], options: PeftOptions = {}): PeftModel<M> {
  const base = model.parameters();
  const wasTrainable = base.map((parameter) => parameter.trainable);
  model.freeze();
  const snapshot = options.trackChanges === false ? undefined : new BaseSnapshot(base);
  const peftModel = new PeftModel(model, new Set(base), snapshot);
  try {
    peftModel.addAdapter(options.adapterName ?? DEFAULT_ADAPTER_NAME, methods);
  } catch (error) {
    base.forEach((parameter, i) => (parameter.trainable = wasTrainable[i]!));
    throw error;
  }
  return peftModel;
}

/**
 * A model with PEFT methods applied: one or more named adapters (only the active one is enabled
 * and trainable), merge/unmerge, enable/disable, a parameter report and save.
 */
export class PeftModel<M extends AnyModule = AnyModule> {
  readonly model: M;
  /** The base values at peft() time, for counting changed entries; undefined with trackChanges: false. */
  readonly baseSnapshot: BaseSnapshot | undefined;
  private readonly base: ReadonlySet<Parameter>;
  private readonly adapters = new Map<string, AdapterMethodEntry[]>();
  private readonly claims = new ClaimLedger();
  private active = '';
  private merged = false;
  private enabled = true;

  /** Use `peft(model, methods)`. */
  constructor(model: M, baseParameters: ReadonlySet<Parameter>, baseSnapshot: BaseSnapshot | undefined) {
    this.model = model;
    this.base = baseParameters;
    this.baseSnapshot = baseSnapshot;
  }

  /** The base model's task (from the model, when it is a TaskModel). */
  get task(): TaskType {
    const task = (this.model as Partial<TaskModel>).task;
    if (task === undefined) throw new PeftError('invalid-argument', 'The base model has no task head (it is not a TaskModel).', { field: 'model.task', value: undefined, allowed: 'a TaskModel' });
    return task;
  }

  /** The active adapter's name. */
  get activeAdapter(): string {
    return this.active;
  }

  /** Whether the active adapter's methods are folded into the base weights. */
  get isMerged(): boolean {
    return this.merged;
  }

  /** Adapter names, in the order they were added. */
  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** The base model's forward, with the methods in place. */
  forward(...args: Parameters<M['forward']>): ReturnType<M['forward']> {
    return this.model.forward(...args) as ReturnType<M['forward']>;
  }

  /**
   * Inference where each example names its adapter, or `__base__` for the base model (HF PEFT's
   * `adapter_names=`). Eval mode, unmerged; see forwardMixedBatch.
   */
  forwardMixed(inputs: ModelInputs, adapterNames: readonly string[]): ModelOutput {
    return forwardMixedBatch(this as unknown as MixedBatchHost, inputs, adapterNames);
  }

  /** The base model's task loss (the model must be a TaskModel). */
  taskLoss(output: ModelOutput, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar {
    const taskModel = this.model as Partial<TaskModel>;
    if (typeof taskModel.taskLoss !== 'function') {
      throw new PeftError('invalid-argument', 'The base model has no taskLoss (it is not a TaskModel).', { field: 'model.taskLoss', value: undefined, allowed: 'a TaskModel' });
    }
    return taskModel.taskLoss(output, labels, attentionMask);
  }

  /** The active adapter's applied methods, in application order. */
  appliedMethods(): readonly AppliedMethod[] {
    return this.entries().map((entry) => entry.applied);
  }

  /** The active adapter's methods with their configs (or another adapter's, by name). */
  entries(adapterName = this.active): readonly AdapterMethodEntry[] {
    return this.adapterEntries(adapterName);
  }

  /** What the optimizer updates: the union of the active adapter's parameters that are trainable, each once. */
  trainableParameters(): Parameter[] {
    return [...new Set(this.entries().flatMap((entry) => entry.applied.parameters()))].filter((parameter) => parameter.trainable);
  }

  /** Every parameter: the model tree's and those methods hold outside it, each once. */
  allParameters(): Parameter[] {
    const all = new Set(this.model.parameters());
    for (const entries of this.adapters.values()) for (const entry of entries) for (const parameter of entry.applied.parameters()) all.add(parameter);
    return [...all];
  }

  /** True for parameters the base model had at peft() time. */
  isBaseParameter(parameter: Parameter): boolean {
    return this.base.has(parameter);
  }

  /**
   * Applies methods as a new named adapter (HF PEFT's `add_adapter`). The first adapter becomes
   * active; a later one is added disabled and frozen until `setAdapter(name)`, so its methods must
   * support `setEnabled`.
   */
  addAdapter(name: string, methods: readonly MethodConfig[]): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new PeftError('invalid-argument', `Adapter names must be non-empty strings without dots; got ${JSON.stringify(name)}.`, { field: 'adapterName', value: name, allowed: 'a non-empty string without dots' });
    }
    if (this.adapters.has(name)) {
      throw new PeftError('invalid-argument', `An adapter named "${name}" already exists.`, { field: 'adapterName', value: name, allowed: `a name other than ${this.adapterNames().join(', ')}` });
    }
    if (this.merged) throw mergedError('add an adapter');
    validateMethodConfigs(methods);
    const isFirst = this.adapters.size === 0;
    if (!isFirst) requireSetEnabled(this.entries(), `add adapter "${name}" beside the active one`);
    // The new adapter is applied with the others switched off and frozen, so what it selects and
    // snapshots is the base model, and the parameters the active adapter trains are not taken as its.
    if (!isFirst) this.switchOff(this.active);
    const entries: AdapterMethodEntry[] = [];
    try {
      const model = modelInfoOf(this.model);
      for (const [index, { method, config }] of methods.entries()) {
        const applied = method.apply(this.model, config, { adapterName: name, ...(model ? { model } : {}), earlier: entries.map((entry) => entry.applied) });
        validateApplied(applied, method);
        entries.push({ method, config, applied, adapterName: name, index });
        this.claims.add(applied.claims, { methodName: method.name, index, adapterName: name });
      }
      if (!isFirst) requireSetEnabled(entries, `add adapter "${name}" beside the active one`);
      this.adapters.set(name, entries);
      if (isFirst) this.active = name;
      else for (const entry of entries) entry.applied.setEnabled!(false);
    } catch (error) {
      this.adapters.delete(name);
      this.claims.removeAdapter(name);
      throw withRollback(error, entries);
    } finally {
      if (!isFirst) {
        for (const entry of this.entries()) entry.applied.setEnabled!(this.enabled);
        this.syncTrainable();
      }
    }
  }

  /** Makes another adapter the active one: it alone is enabled and trainable (HF PEFT's `set_adapter`). */
  setAdapter(name: string): void {
    this.adapterEntries(name);
    if (name === this.active) return;
    if (this.merged) throw mergedError('switch adapters');
    for (const entries of this.adapters.values()) requireSetEnabled(entries, 'switch adapters');
    for (const [adapterName, entries] of this.adapters) if (adapterName !== name) for (const entry of entries) entry.applied.setEnabled!(false);
    for (const entry of this.adapterEntries(name)) entry.applied.setEnabled!(this.enabled);
    this.active = name;
    this.syncTrainable();
  }

  /**
   * Removes an adapter's methods from the model (each must support `remove`) and disposes the
   * parameters they created. The last adapter cannot be deleted. Deleting the active one
   * activates the first remaining.
   */
  deleteAdapter(name: string): void {
    const entries = this.adapterEntries(name);
    if (this.adapters.size === 1) throw new PeftError('invalid-argument', `"${name}" is the only adapter; it cannot be deleted.`, { field: 'adapterName', value: name, allowed: 'an adapter while another exists' });
    if (this.merged) throw mergedError('delete an adapter');
    const notRemovable = entries.filter((entry) => typeof entry.applied.remove !== 'function').map((entry) => entry.method.name);
    if (notRemovable.length) {
      throw new PeftError('not-implemented', `Cannot delete adapter "${name}": method(s) ${notRemovable.join(', ')} do not support remove().`, { field: 'adapterName', value: name, allowed: 'adapters whose methods all support remove()' });
    }
    for (const entry of [...entries].reverse()) entry.applied.remove!();
    this.adapters.delete(name);
    this.claims.removeAdapter(name);
    const stillUsed = new Set(this.allParameters());
    for (const entry of entries) for (const parameter of entry.applied.parameters()) if (!this.base.has(parameter) && !stillUsed.has(parameter)) parameter.dispose();
    if (this.active === name) {
      this.active = '';
      this.setAdapter(this.adapterNames()[0]!);
    }
  }

  /** Turns the active adapter's methods on (every method must support `setEnabled`). */
  enable(): void {
    this.setEnabled(true);
  }

  /** Turns the active adapter's methods off: the model behaves as the base model (HF PEFT's `disable_adapter`). */
  disable(): void {
    this.setEnabled(false);
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /**
   * Folds the active adapter's methods into the base weights, in order. Every method must support
   * merge ('not-mergeable' names those that do not). A merge that leaves any changed weight
   * non-finite is rolled back bit for bit and is a 'merge-not-finite' error naming the method.
   */
  merge(): void {
    if (this.merged) return;
    if (!this.enabled) throw new PeftError('invalid-argument', 'The adapter is disabled; enable() it before merging.', { field: 'enabled', value: false, allowed: [String(true)] });
    const entries = this.entries();
    requireMergeable(entries);
    const backup = new ParameterBackup(this.allParameters());
    try {
      mergeInOrder(entries, backup);
    } finally {
      backup.dispose();
    }
    this.merged = true;
  }

  /** Undoes `merge`, in reverse order. */
  unmerge(): void {
    if (!this.merged) return;
    for (const entry of [...this.entries()].reverse()) entry.applied.unmerge!();
    this.merged = false;
  }

  /** Whether every method of the active adapter can merge. */
  canMerge(): boolean {
    return this.entries().every(canMergeEntry);
  }

  /**
   * Runs `measure` with the active adapter merged, then restores the weights bit for bit. Used to
   * count the entries a reparametrization changes. Runs it unmerged when a method cannot merge.
   */
  withTemporaryMerge<T>(measure: (merged: boolean) => T): T {
    if (this.merged) return measure(true);
    if (!this.enabled || !this.canMerge()) return measure(false);
    const entries = this.entries();
    const backup = new ParameterBackup(this.allParameters());
    try {
      mergeInOrder(entries, backup);
      try {
        return measure(true);
      } finally {
        for (const entry of [...entries].reverse()) entry.applied.unmerge!();
        backup.restore();
      }
    } finally {
      backup.dispose();
    }
  }

  /** The parameter report: total, trainable, changed, adapter bytes, per method. */
  report(): ParameterReport {
    return parameterReport(this);
  }

  /** The report as an aligned text table. */
  formatReport(): string {
    return formatParameterReport(this.report());
  }

  /**
   * Saves the active adapter (or `options.adapterName`) to `dir`: `adapter_config.json` (a manifest
   * of each method's name, package, version, kind and config) and `adapter_model.safetensors`,
   * each written atomically. With `format: 'hf'` a single method that supports it writes HF PEFT's files.
   */
  async save(dir: string, options: SaveAdapterOptions = {}): Promise<void> {
    await saveAdapter(this.adapterEntries(options.adapterName ?? this.active), dir, options);
  }

  /** Disables an adapter's methods and freezes their parameters. */
  private switchOff(name: string): void {
    for (const entry of this.adapterEntries(name)) {
      entry.applied.setEnabled!(false);
      for (const parameter of entry.applied.parameters()) parameter.trainable = false;
    }
  }

  private setEnabled(enabled: boolean): void {
    if (this.merged) throw mergedError(enabled ? 'enable' : 'disable');
    const entries = this.entries();
    requireSetEnabled(entries, enabled ? 'enable' : 'disable');
    for (const entry of entries) entry.applied.setEnabled!(enabled);
    this.enabled = enabled;
  }

  private adapterEntries(name: string): AdapterMethodEntry[] {
    const entries = this.adapters.get(name);
    if (!entries) throw new PeftError('invalid-argument', `No adapter named "${name}".`, { field: 'adapterName', value: name, allowed: this.adapterNames() });
    return entries;
  }

  /** Only the active adapter's parameters are trainable; a parameter shared with it stays trainable. */
  private syncTrainable(): void {
    for (const [name, entries] of this.adapters) if (name !== this.active) for (const entry of entries) for (const p of entry.applied.parameters()) p.trainable = false;
    for (const entry of this.entries()) for (const parameter of entry.applied.parameters()) parameter.trainable = true;
  }
}

