import { PeftError } from '../../errors/peft-error';
import { leanAdd } from '../../grad/lean-add';
import { Module } from '../../nn/module';
import type { Parameter } from '../../nn/parameter';
import { tf } from '../../nn/tf';
import type { ContributionGate } from '../../nn/contribution-gate';

/** One named adapter inside a wrapper: its parameters, its options and its state. */
export interface WrapperAdapter<Options = unknown> {
  readonly name: string;
  /** The method that created it (`lora`, `houlsby`), so a gate can find the contributions of one method. */
  readonly methodName: string;
  readonly options: Options;
  /** The adapter's parameters by name (`loraA`, `loraB`); they live at `<wrapper>.adapters.<name>.<parameter>`. */
  readonly parameters: AdapterParameters;
  enabled: boolean;
  merged: boolean;
  gate: ContributionGate | undefined;
}

/** The holder of one adapter's parameters in the module tree (`<wrapper>.adapters.<adapter name>`). */
export class AdapterParameters extends Module<[], never> {
  constructor(parameters: Record<string, Parameter>) {
    super();
    for (const [name, parameter] of Object.entries(parameters)) this.registerParameter(name, parameter);
  }

  get(name: string): Parameter {
    return this.parameter(name);
  }

  forward(): never {
    throw new PeftError('invalid-argument', 'AdapterParameters only holds parameters; it has no forward.', { field: 'forward' });
  }
}

/** The holder of every adapter of a wrapper (`<wrapper>.adapters`). */
class AdapterStore extends Module<[], never> {
  add(name: string, holder: AdapterParameters): void {
    this.registerModule(name, holder);
  }

  forward(): never {
    throw new PeftError('invalid-argument', 'The adapter store has no forward.', { field: 'forward' });
  }
}

/**
 * The base of every layer that wraps a module and adds named adapters to it, like HF PEFT's
 * `BaseTunerLayer` and tfjs-layers' `Wrapper`. It holds the wrapped module as `base`, passes its
 * role through, keeps each adapter's parameters keyed by adapter name inside the layer, and does
 * the bookkeeping every method needs: enable/disable per adapter, several adapters at once,
 * merge/unmerge in order with a finite check, gates on the contribution, state, and removal.
 *
 * A method's layer writes only three things: `createParameters` (the parameters of a new adapter),
 * `contribution` (what the adapter adds to the base output) and, where it merges, `deltaWeight`
 * (the same update as a change of the base weight). Forward is
 *   y = base(x) + Σ_{enabled, unmerged adapters a} gate_a(x) · contribution_a(x, base(x)).
 * Layers whose effect is not additive (a trainable copy replacing the base) override `forward`.
 *
 * @example
 * class ScaleLinear extends AdapterWrapper<[tf.Tensor], tf.Tensor, { init: number }> {
 *   protected createParameters(_name: string, options: { init: number }) {
 *     return { scale: new Parameter(tf.fill([this.outFeatures], options.init - 1), { kind: 'scale' }) };
 *   }
 *   protected contribution(adapter: WrapperAdapter, y: tf.Tensor) { return tf.mul(y, adapter.parameters.get('scale').value); }
 * }
 */
export abstract class AdapterWrapper<TArgs extends unknown[] = [tf.Tensor], TOut extends tf.Tensor = tf.Tensor, Options = unknown> extends Module<TArgs, TOut> {
  private readonly adapterMap = new Map<string, WrapperAdapter<Options>>();
  /** Adapters in the order they were merged, so unmerge can go in reverse. */
  private readonly mergeOrder: string[] = [];

  constructor(base: Module<TArgs, TOut>) {
    super();
    this.role = base.role;
    this.registerModule('base', base);
    this.registerModule('adapters', new AdapterStore());
    // Follow the wrapped module's mode, so wrapping a model in eval mode keeps dropout off.
    this.train(base.training);
  }

  /** The wrapped module. */
  get base(): Module<TArgs, TOut> {
    return this.child<Module<TArgs, TOut>>('base');
  }

  /** The parameters of a new adapter. Called by `addAdapter`. */
  protected abstract createParameters(adapterName: string, options: Options): Record<string, Parameter>;

  /**
   * What an adapter adds to the base output, same shape as it. `baseOutput` is the base's output
   * (or, with several adapters, the base output before any adapter is added).
   */
  protected abstract contribution(adapter: WrapperAdapter<Options>, baseOutput: TOut, ...inputs: TArgs): tf.Tensor;

  /**
   * The adapter's update as a change of the merge target's weight (same layout), for methods that
   * merge. Absent: the layer cannot merge ('not-mergeable').
   */
  protected deltaWeight?(adapter: WrapperAdapter<Options>): tf.Tensor;

  /** The tensor a gate reads: the wrapper's first input by default (the sublayer or linear input). */
  protected gateInput(_baseOutput: TOut, ...inputs: TArgs): tf.Tensor {
    return inputs[0] as tf.Tensor;
  }

  /** Features of the gate's input (a gate is a linear map from them). */
  get gateInputSize(): number {
    const inFeatures = (this.base as unknown as { inFeatures?: number; hiddenSize?: number }).inFeatures ?? (this.base as unknown as { hiddenSize?: number }).hiddenSize;
    if (typeof inFeatures !== 'number') {
      throw new PeftError('not-implemented', `${this.constructor.name} cannot be gated: its base has neither inFeatures nor hiddenSize.`, { field: 'gate', value: this.constructor.name, allowed: 'wrappers of Linears or sublayers' });
    }
    return inFeatures;
  }

  /**
   * A view of this layer whose single-adapter conveniences (`primary`, `merged`, `enabled`,
   * `merge()`, and a subclass's getters built on `primary`) read adapter `adapterName` instead of the
   * first one: what per-adapter code (HF files, adapter arithmetic) takes.
   */
  forAdapter(adapterName: string): this {
    const adapter = this.adapter(adapterName);
    return Object.create(this, { primary: { get: () => adapter } }) as this;
  }

  /** The adapter single-adapter code reads: the first one, or the one a `forAdapter` view names. */
  protected get primary(): WrapperAdapter<Options> {
    const name = this.adapterNames()[0];
    if (name === undefined) throw new PeftError('invalid-argument', `This ${this.constructor.name} holds no adapter yet.`, { field: 'adapterName', allowed: 'addAdapter() first' });
    return this.adapter(name);
  }

  /** Whether the first adapter (or a view's) is merged. */
  get merged(): boolean {
    return this.primary.merged;
  }

  /** Whether the first adapter (or a view's) is enabled. */
  get enabled(): boolean {
    return this.primary.enabled;
  }

  set enabled(enabled: boolean) {
    this.primary.enabled = enabled;
  }

  /** Merges the first adapter (or a view's); see mergeAdapter. */
  merge(): void {
    this.mergeAdapter(this.primary.name);
  }

  unmerge(): void {
    this.unmergeAdapter(this.primary.name);
  }

  /** Adds an adapter (HF PEFT's `update_layer`): creates its parameters, enabled and unmerged. */
  addAdapter(name: string, methodName: string, options: Options): WrapperAdapter<Options> {
    if (this.adapterMap.has(name)) {
      throw new PeftError('composition-conflict', `${this.constructor.name} already holds an adapter "${name}".`, { field: 'adapterName', value: name, allowed: `a name other than ${this.adapterNames().join(', ')}` });
    }
    if (name === '' || name.includes('.')) {
      throw new PeftError('invalid-argument', `Adapter names must be non-empty and dot-free; got "${name}".`, { field: 'adapterName', value: name, allowed: 'a non-empty name without dots' });
    }
    const parameters = new AdapterParameters(this.createParameters(name, options));
    this.child<AdapterStore>('adapters').add(name, parameters);
    const adapter: WrapperAdapter<Options> = { name, methodName, options, parameters, enabled: true, merged: false, gate: undefined };
    this.adapterMap.set(name, adapter);
    return adapter;
  }

  /** Removes an adapter (unmerging it first) and disposes its parameters and gate. */
  deleteAdapter(name: string): void {
    const adapter = this.adapter(name);
    if (adapter.merged) this.unmergeAdapter(name);
    this.setGate(name, undefined);
    this.child<AdapterStore>('adapters').removeChild(name);
    for (const [, parameter] of adapter.parameters.ownNamedParameters()) parameter.dispose();
    this.adapterMap.delete(name);
  }

  hasAdapter(name: string): boolean {
    return this.adapterMap.has(name);
  }

  adapterNames(): string[] {
    return [...this.adapterMap.keys()];
  }

  /** The adapter of that name (an 'invalid-argument' error listing the others when absent). */
  adapter(name: string): WrapperAdapter<Options> {
    const adapter = this.adapterMap.get(name);
    if (!adapter) throw new PeftError('invalid-argument', `${this.constructor.name} holds no adapter "${name}".`, { field: 'adapterName', value: name, allowed: this.adapterNames() });
    return adapter;
  }

  /** Adapters whose contribution forward adds: enabled and not merged. */
  activeAdapters(): Array<WrapperAdapter<Options>> {
    return [...this.adapterMap.values()].filter((adapter) => adapter.enabled && !adapter.merged);
  }

  setAdapterEnabled(name: string, enabled: boolean): void {
    this.adapter(name).enabled = enabled;
  }

  /** An adapter's parameters keyed `<prefix>.<parameter>` (the wrapper's path as prefix), as state and reports key them. */
  keyedParameters(name: string, prefix: string): Array<[string, Parameter]> {
    return this.adapter(name).parameters.ownNamedParameters().map(([parameterName, parameter]): [string, Parameter] => [`${prefix}.${parameterName}`, parameter]);
  }

  /** Puts a gate on an adapter's contribution (undefined removes it and disposes the old gate). */
  setGate(name: string, gate: ContributionGate | undefined): void {
    const adapter = this.adapter(name);
    if (adapter.gate && adapter.gate !== gate) {
      this.removeChild(gateChildName(name));
      adapter.gate.dispose();
    }
    adapter.gate = gate;
    if (gate && this.maybeChild(gateChildName(name)) !== gate) this.attach(gateChildName(name), gate);
  }

  forward(...inputs: TArgs): TOut {
    const active = this.activeAdapters();
    if (active.length === 0) return this.base.forward(...inputs);
    return tf.tidy(() => {
      const baseOutput = this.base.forward(...inputs);
      let output: tf.Tensor = baseOutput;
      for (const adapter of active) {
        let delta = this.contribution(adapter, baseOutput, ...inputs);
        if (adapter.gate) delta = tf.mul(delta, adapter.gate.scaleFor(this.gateInput(baseOutput, ...inputs), delta.rank));
        // leanAdd keeps neither addend for backward (an add needs only the shapes).
        output = leanAdd(output, delta);
      }
      return output as TOut;
    });
  }

  /**
   * The module merge writes into: the innermost module below the wrappers. Merging goes in
   * application order (inner wrappers first), so an inner adapter's update, additive or rescaling,
   * is already in that weight when an outer one folds in, and unmerge undoes them in reverse.
   */
  innermostBase(): Module<any, any> {
    let current: Module<any, any> = this.base;
    while (current instanceof AdapterWrapper) current = current.base;
    return current;
  }

  /** The parameter an additive merge writes: the innermost module's `weight` (undefined when it has none). */
  mergeTarget(): Parameter | undefined {
    return this.innermostBase().maybeParameter('weight');
  }

  /**
   * Whether this layer can merge at all (the applied method then offers merge). True when it has a
   * `deltaWeight`; a layer with its own `writeMerged` (DoRA's rescaling) overrides it.
   */
  get supportsMerge(): boolean {
    return this.deltaWeight !== undefined;
  }

  /** Whether `mergeAdapter` can fold this adapter now (merge support, no gate, a merge target). */
  canMerge(name: string): boolean {
    const adapter = this.adapter(name);
    return this.supportsMerge && adapter.gate === undefined && this.mergeTarget() !== undefined;
  }

  /** Folds an adapter into the base weight: W ← W + ΔW, checked finite before anything is written. */
  mergeAdapter(name: string): void {
    const adapter = this.adapter(name);
    if (adapter.merged) return;
    this.writeMerged(adapter, 1);
    adapter.merged = true;
    this.mergeOrder.push(name);
  }

  /** Undoes `mergeAdapter`: W ← W − ΔW. */
  unmergeAdapter(name: string): void {
    const adapter = this.adapter(name);
    if (!adapter.merged) return;
    this.writeMerged(adapter, -1);
    adapter.merged = false;
    this.mergeOrder.splice(this.mergeOrder.lastIndexOf(name), 1);
  }

  /** Names of the merged adapters, in merge order. */
  mergedAdapters(): readonly string[] {
    return [...this.mergeOrder];
  }

  /** Writes W ± ΔW into the merge target; subclasses with a non-additive merge (DoRA) override it. */
  protected writeMerged(adapter: WrapperAdapter<Options>, sign: 1 | -1): void {
    const what = sign === 1 ? 'merge' : 'unmerge';
    if (adapter.gate) {
      throw new PeftError('not-mergeable', `${this.constructor.name} cannot ${what} adapter "${adapter.name}": a gate scales its contribution by a function of the input.`, { field: 'gate', value: adapter.methodName, allowed: 'ungated adapters' });
    }
    const target = this.mergeTarget();
    if (!this.deltaWeight || !target) {
      throw new PeftError('not-mergeable', `${this.constructor.name} cannot ${what} adapter "${adapter.name}": ${this.deltaWeight ? 'the wrapped module has no weight it can fold into' : 'it has no weight delta'}.`, {
        field: 'base',
        value: this.base.constructor.name,
        allowed: 'a Linear, or wrappers of one',
      });
    }
    writeFinite(target, () => {
      const delta = this.deltaWeight!(adapter);
      return sign === 1 ? tf.add(target.value, delta) : tf.sub(target.value, delta);
    }, `${adapter.methodName} ${what}`);
  }
}

/**
 * Assigns `compute()` to a parameter when every entry is finite; otherwise writes nothing and
 * throws 'merge-not-finite' naming what was attempted.
 */
export function writeFinite(target: Parameter, compute: () => tf.Tensor, what: string): void {
  const next = tf.tidy(compute);
  const finite = tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0] === 1);
  if (!finite) {
    next.dispose();
    throw new PeftError('merge-not-finite', `${what} would write non-finite weights; nothing was changed.`, { field: 'weight', allowed: 'finite adapter weights' });
  }
  target.assign(next);
  next.dispose();
}

function gateChildName(adapterName: string): string {
  return `gate_${adapterName}`;
}

/** A wrapper class, or several (a method whose targets take different layer classes). */
export type WrapperClass<W> = (abstract new (...args: any[]) => W) | ReadonlyArray<abstract new (...args: any[]) => W>;

/** The first AdapterWrapper of class `type` (or one of the classes) met walking down from `module` through wrappers' bases. */
export function findWrapper<W extends AdapterWrapper<any, any, any>>(module: Module<any, any>, type: WrapperClass<W>): W | undefined {
  const types = Array.isArray(type) ? type : [type];
  let current: Module<any, any> | undefined = module;
  while (current) {
    if (types.some((candidate) => current instanceof candidate)) return current as W;
    current = current instanceof AdapterWrapper ? current.base : undefined;
  }
  return undefined;
}
