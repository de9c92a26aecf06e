import type { Linear} from '@peftjs/core';
import { Module, Parameter, PeftError, linearForward, tf } from '@peftjs/core';

/**
 * A Linear trained in full beside LoRA, the way HF PEFT's `modules_to_save` does it
 * (`ModulesToSaveWrapper`): the original stays frozen as child `base` and a trainable copy of its
 * weight and bias is used while enabled, so disabling the adapter gives the base model back.
 * Typically the task head, which a new task needs trained (HF adds `classifier`/`score` for SEQ_CLS).
 */
export class TrainableCopyLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  enabled = true;
  /** The base's values while merged (the copy is written into the base), restored by unmerge. */
  private stash: { weight: tf.Tensor; bias: tf.Tensor | undefined } | undefined;

  constructor(base: Linear) {
    super();
    this.role = base.role;
    this.training = base.training;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.registerModule('base', base);
    this.registerParameter('weight', new Parameter(tf.clone(base.weight.value), { kind: 'weight' }));
    if (base.bias) this.registerParameter('bias', new Parameter(tf.clone(base.bias.value), { kind: 'bias' }));
  }

  get base(): Linear {
    return this.child<Linear>('base');
  }

  /** The trainable parameters: the weight copy [in, out] and, when the base has one, the bias copy. */
  copies(): Parameter[] {
    return this.ownNamedParameters().map(([, parameter]) => parameter);
  }

  get merged(): boolean {
    return this.stash !== undefined;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.merged) return this.base.forward(x);
    return tf.tidy(() => linearForward(x, this.parameter('weight').value, this.maybeParameter('bias')?.value));
  }

  /** Writes the trained copy into the base Linear (its values kept for unmerge); checked finite first. */
  merge(): void {
    if (this.merged) return;
    const finite = tf.tidy(() => this.copies().every((parameter) => tf.all(tf.isFinite(parameter.value)).dataSync()[0] === 1));
    if (!finite) throw new PeftError('merge-not-finite', 'modules to save: the trained copy has non-finite values; nothing was changed.', { field: 'modulesToSave', allowed: 'finite weights' });
    const base = this.base;
    this.stash = { weight: tf.clone(base.weight.value), bias: base.bias ? tf.clone(base.bias.value) : undefined };
    base.weight.assign(this.parameter('weight').value);
    if (base.bias) base.bias.assign(this.parameter('bias').value);
  }

  /** Puts the base values back. */
  unmerge(): void {
    if (!this.stash) return;
    const base = this.base;
    base.weight.assign(this.stash.weight);
    if (base.bias && this.stash.bias) base.bias.assign(this.stash.bias);
    tf.dispose([this.stash.weight, this.stash.bias ?? []]);
    this.stash = undefined;
  }
}
