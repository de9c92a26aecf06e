import { LinearAdapterWrapper, Parameter, PeftError, linearForward, tf, type Linear, type Module, type WrapperAdapter } from '@peftjs/core';

/**
 * A Linear trained in full beside LoRA, the way HF PEFT's `modules_to_save` does it
 * (`ModulesToSaveWrapper`): the original stays frozen as child `base` and each named adapter keeps
 * a trainable copy of its weight and bias, used while that adapter is active, so disabling the
 * adapter gives the base model back. Typically the task head, which a new task needs trained (HF
 * adds `classifier`/`score` for SEQ_CLS).
 */
export class TrainableCopyLinear extends LinearAdapterWrapper<Record<string, never>> {
  /** The base's values while an adapter is merged (its copy written into the base), restored by unmerge. */
  private stash: { weight: tf.Tensor; bias: tf.Tensor | undefined } | undefined;

  constructor(base: Module<[tf.Tensor], tf.Tensor>, adapterName?: string, methodName = 'lora') {
    super(base);
    if (adapterName !== undefined) this.addAdapter(adapterName, methodName, {});
  }

  private get linear(): Linear {
    return this.innermostBase() as Linear;
  }

  protected createParameters(): Record<string, Parameter> {
    const base = this.linear;
    const copies: Record<string, Parameter> = { weight: new Parameter(tf.clone(base.weight.value), { kind: 'weight' }) };
    if (base.bias) copies.bias = new Parameter(tf.clone(base.bias.value), { kind: 'bias' });
    return copies;
  }

  /** The trainable parameters of the first adapter: the weight copy [in, out] and, when the base has one, the bias copy. */
  copies(adapterName = this.adapterNames()[0]!): Parameter[] {
    return this.adapter(adapterName).parameters.ownNamedParameters().map(([, parameter]) => parameter);
  }

  /** A view whose `ownNamedParameters()` are adapter `adapterName`'s copies (what HF files read and write). */
  override forAdapter(adapterName: string): this {
    const parameters = this.adapter(adapterName).parameters;
    return Object.create(super.forAdapter(adapterName), { ownNamedParameters: { value: () => parameters.ownNamedParameters() } }) as this;
  }

  /** The copy's output replaces the base's: its contribution is the difference. */
  protected contribution(adapter: WrapperAdapter<Record<string, never>>, y: tf.Tensor, x: tf.Tensor): tf.Tensor {
    return tf.sub(this.copyForward(adapter, x), y);
  }

  /** The active adapter's copy alone (the base is not run). */
  override forward(x: tf.Tensor): tf.Tensor {
    const active = this.activeAdapters();
    if (active.length === 0) return this.base.forward(x);
    if (active.length > 1 || active[0]!.gate) return super.forward(x);
    return tf.tidy(() => this.copyForward(active[0]!, x));
  }

  private copyForward(adapter: WrapperAdapter<Record<string, never>>, x: tf.Tensor): tf.Tensor {
    return linearForward(x, adapter.parameters.get('weight').value, adapter.parameters.maybeParameter('bias')?.value);
  }

  override get supportsMerge(): boolean {
    return true;
  }

  override canMerge(adapterName: string): boolean {
    return this.adapter(adapterName).gate === undefined && (this.stash === undefined || this.adapter(adapterName).merged);
  }

  /** Merge writes the trained copy into the base Linear (its values kept for unmerge), checked finite first; unmerge puts them back. */
  protected override writeMerged(adapter: WrapperAdapter<Record<string, never>>, sign: 1 | -1): void {
    const base = this.linear;
    if (sign === -1) {
      if (!this.stash) return;
      base.weight.assign(this.stash.weight);
      if (base.bias && this.stash.bias) base.bias.assign(this.stash.bias);
      tf.dispose([this.stash.weight, this.stash.bias ?? []]);
      this.stash = undefined;
      return;
    }
    if (this.stash) throw new PeftError('not-mergeable', 'modules to save: another adapter copy is already merged into this layer.', { field: 'modulesToSave', allowed: 'one merged copy at a time' });
    const copies = adapter.parameters;
    const finite = tf.tidy(() => copies.ownNamedParameters().every(([, parameter]) => tf.all(tf.isFinite(parameter.value)).dataSync()[0] === 1));
    if (!finite) throw new PeftError('merge-not-finite', 'modules to save: the trained copy has non-finite values; nothing was changed.', { field: 'modulesToSave', allowed: 'finite weights' });
    this.stash = { weight: tf.clone(base.weight.value), bias: base.bias ? tf.clone(base.bias.value) : undefined };
    base.weight.assign(copies.get('weight').value);
    if (base.bias) base.bias.assign(copies.get('bias').value);
  }
}
