import { LinearAdapterWrapper, Parameter, PeftError, tf, type Linear, type WrapperAdapter } from '@peftjs/core';

/** What each named adapter of a ChannelScaleLinear is created with. */
export interface ChannelScaleOptions {
  init: number;
}

/**
 * Wraps a frozen Linear: y = (x·W + b) ⊙ s with a trainable s ∈ R^out per adapter, the same form as
 * the output rescaling of (IA)3 (Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and
 * Cheaper than In-Context Learning", §3.3). Because s scales output channels, it folds exactly into
 * W's columns and b, so merge costs nothing at inference.
 *
 * Built on core's LinearAdapterWrapper, which does adapters by name, enable, gates, state and
 * removal: this layer writes its parameter, its contribution y ⊙ (s − 1), and its merge.
 */
export class ChannelScaleLinear extends LinearAdapterWrapper<ChannelScaleOptions> {
  protected createParameters(_adapterName: string, options: ChannelScaleOptions): Record<string, Parameter> {
    return { scale: new Parameter(tf.fill([this.outFeatures], options.init), { kind: 'scale' }) };
  }

  protected contribution(adapter: WrapperAdapter<ChannelScaleOptions>, y: tf.Tensor): tf.Tensor {
    return tf.mul(y, tf.sub(adapter.parameters.get('scale').value, 1));
  }

  /** The scale of an adapter (the first one by default). */
  scaleOf(adapterName = this.adapterNames()[0]!): Parameter {
    return this.adapter(adapterName).parameters.get('scale');
  }

  override get supportsMerge(): boolean {
    return true;
  }

  override canMerge(adapterName: string): boolean {
    return this.adapter(adapterName).gate === undefined;
  }

  /** Merge: W ← W·diag(s), b ← b ⊙ s; unmerge divides s back out (refused where |s| ≈ 0, which cannot be undone). */
  protected override writeMerged(adapter: WrapperAdapter<ChannelScaleOptions>, sign: 1 | -1): void {
    const scale = adapter.parameters.get('scale').value;
    if (sign === -1 && tf.tidy(() => tf.any(tf.less(tf.abs(scale), 1e-12)).dataSync()[0])) {
      throw new PeftError('not-mergeable', 'channel-scale: cannot unmerge a scale with zero entries (the weights lost that information).', { field: 'scale', allowed: 'scales with |s| > 1e-12' });
    }
    const base = this.innermostBase() as Linear;
    const next = tf.tidy(() => {
      const factor = sign === 1 ? scale : tf.reciprocal(scale);
      return { weight: tf.mul(base.weight.value, factor), bias: base.bias ? tf.mul(base.bias.value, factor) : undefined };
    });
    const finite = tf.tidy(() => tf.all(tf.isFinite(next.weight)).dataSync()[0] && (!next.bias || tf.all(tf.isFinite(next.bias)).dataSync()[0]));
    if (!finite) {
      tf.dispose([next.weight, next.bias ?? []]);
      throw new PeftError('merge-not-finite', `channel-scale: ${sign === 1 ? 'merge' : 'unmerge'} would write non-finite weights; nothing was changed.`, { field: 'scale' });
    }
    base.weight.assign(next.weight);
    if (next.bias) base.bias!.assign(next.bias);
    tf.dispose([next.weight, next.bias ?? []]);
  }
}
