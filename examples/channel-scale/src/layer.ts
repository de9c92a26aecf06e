import { Module, Parameter, PeftError, tf, type Linear } from '@peftjs/core';

/**
 * Wraps a frozen Linear: y = (x·W + b) ⊙ s with a trainable s ∈ R^out, the same form as the output
 * rescaling of (IA)3 (Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper
 * than In-Context Learning", §3.3). Because s scales output channels, it folds exactly into W's
 * columns and b, so merge costs nothing at inference.
 */
export class ChannelScaleLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  enabled = true;
  merged = false;

  constructor(base: Linear, init: number) {
    super();
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.registerModule('base', base);
    this.registerParameter('scale', new Parameter(tf.fill([base.outFeatures], init), { kind: 'scale' }));
  }

  get base(): Linear {
    return this.child<Linear>('base');
  }

  get scale(): Parameter {
    return this.parameter('scale');
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.merged) return this.base.forward(x);
    return tf.tidy(() => tf.mul(this.base.forward(x), this.scale.value));
  }

  /** W ← W·diag(s), b ← b ⊙ s. Checked finite before anything is written. */
  merge(): void {
    if (this.merged) return;
    this.rescaleBase(this.scale.value, 'merge');
    this.merged = true;
  }

  /** Divides the scale back out; refuses when an entry of s is (near) zero, since that cannot be undone. */
  unmerge(): void {
    if (!this.merged) return;
    const tiny = tf.tidy(() => tf.any(tf.less(tf.abs(this.scale.value), 1e-12)).dataSync()[0]);
    if (tiny) {
      throw new PeftError('not-mergeable', 'channel-scale: cannot unmerge a scale with zero entries (the weights lost that information).', {
        field: 'scale',
        allowed: 'scales with |s| > 1e-12',
      });
    }
    tf.tidy(() => this.rescaleBase(tf.reciprocal(this.scale.value), 'unmerge'));
    this.merged = false;
  }

  private rescaleBase(factor: tf.Tensor, what: string): void {
    const base = this.base;
    const next = tf.tidy(() => ({ weight: tf.mul(base.weight.value, factor), bias: base.bias ? tf.mul(base.bias.value, factor) : undefined }));
    const finite = tf.tidy(() => tf.all(tf.isFinite(next.weight)).dataSync()[0] && (!next.bias || tf.all(tf.isFinite(next.bias)).dataSync()[0]));
    if (!finite) {
      tf.dispose([next.weight, next.bias ?? []]);
      throw new PeftError('merge-not-finite', `channel-scale: ${what} would write non-finite weights; nothing was changed.`, { field: 'scale' });
    }
    base.weight.assign(next.weight);
    if (next.bias) base.bias!.assign(next.bias);
    tf.dispose([next.weight, next.bias ?? []]);
  }
}
