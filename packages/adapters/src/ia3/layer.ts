import { Linear, LinearAdapterWrapper, Parameter, PeftError, globalSeeds, leanAdd, tf, type WrapperAdapter } from '@peftjs/core';
import { scaledInputLinear } from './scaled-input-linear';

/** What each named (IA)3 adapter of an Ia3Linear is created with. */
export interface Ia3Options {
  /** Scale the input (the FFN's intermediate activation) rather than the output. */
  feedforward: boolean;
  /** Start at ones (true) or N(0, 1) (HF PEFT's `init_ia3_weights=False`). */
  initOnes: boolean;
}

/**
 * (IA)3 on a frozen linear (Liu et al. 2022, §3.3; survey "Scaling Down to Scale Up" §7.2, Eq.
 * "(IA)3": softmax(Q·(l_k ⊙ K)ᵀ)·(l_v ⊙ V) and (l_ff ⊙ γ(W₁x))·W₂):
 * - output targets (keys, values): y = (x·W + b) ⊙ l, l ∈ R^out;
 * - feed-forward targets: y = (x ⊙ l)·W + b, l ∈ R^in (l_ff scales the intermediate activation).
 * Several adapters multiply, as in HF PEFT's IA3 Linear. A vector folds exactly into W (and b for
 * output targets), so merge is free at inference.
 */
export class Ia3Linear extends LinearAdapterWrapper<Ia3Options> {
  protected createParameters(_adapterName: string, options: Ia3Options): Record<string, Parameter> {
    const size = options.feedforward ? this.inFeatures : this.outFeatures;
    const initial = options.initOnes ? tf.ones([size]) : tf.randomNormal([size], 0, 1, 'float32', globalSeeds().nextSeed());
    return { ia3: new Parameter(initial, { kind: 'ia3' }) };
  }

  /** The vector of an adapter (the first one by default). */
  vectorOf(adapterName = this.adapterNames()[0]!): Parameter {
    return this.adapter(adapterName).parameters.get('ia3');
  }

  /** Whether the adapter of that name scales the input. */
  isFeedforward(adapterName = this.adapterNames()[0]!): boolean {
    return this.adapter(adapterName).options.feedforward;
  }

  /** A gated output adapter adds g·y ⊙ (l − 1): the ungated product with the gate pulling l toward 1. */
  protected contribution(adapter: WrapperAdapter<Ia3Options>, y: tf.Tensor): tf.Tensor {
    return tf.mul(y, tf.sub(adapter.parameters.get('ia3').value, 1));
  }

  override forward(x: tf.Tensor): tf.Tensor {
    const active = this.activeAdapters();
    if (active.length === 0) return this.base.forward(x);
    return tf.tidy(() => {
      const inputs = active.filter((adapter) => adapter.options.feedforward);
      const outputs = active.filter((adapter) => !adapter.options.feedforward);
      const gatedInput = inputs.find((adapter) => adapter.gate);
      if (gatedInput) {
        throw new PeftError('not-implemented', `ia3: a gate on the feed-forward (input-scaling) vector of adapter "${gatedInput.name}" is not supported.`, { field: 'gate', value: gatedInput.name, allowed: 'gates on output-scaling (key/value) vectors' });
      }
      let y: tf.Tensor;
      const base = this.base;
      if (inputs.length > 0 && base instanceof Linear && !base.weight.trainable && !(base.bias?.trainable ?? false)) {
        // The memory-lean path: the scaled intermediate is not kept for backward (see scaledInputLinear).
        const scale = inputs.map((adapter) => adapter.parameters.get('ia3').value).reduce((product, vector) => tf.mul(product, vector));
        y = scaledInputLinear(x, scale, base.weight.value as tf.Tensor2D);
        if (base.bias) y = leanAdd(y, base.bias.value);
      } else {
        let input = x;
        for (const adapter of inputs) input = tf.mul(input, adapter.parameters.get('ia3').value);
        y = this.base.forward(input);
      }
      for (const adapter of outputs.filter((candidate) => !candidate.gate)) y = tf.mul(y, adapter.parameters.get('ia3').value);
      let output = y;
      for (const adapter of outputs.filter((candidate) => candidate.gate)) {
        output = leanAdd(output, tf.mul(this.contribution(adapter, y), adapter.gate!.scaleFor(x, y.rank)));
      }
      return output;
    });
  }

  override get supportsMerge(): boolean {
    return true;
  }

  override canMerge(adapterName: string): boolean {
    return this.adapter(adapterName).gate === undefined;
  }

  /**
   * Merge: output targets W ← W·diag(l), b ← b ⊙ l; feed-forward targets W ← diag(l)·W (rows of
   * our [in, out] weight), bias untouched, as HF PEFT's IA3 merge. Unmerge divides l back out
   * (refused for entries with |l| < 1e-12, which cannot be undone; HF adds 1e-8 instead).
   */
  protected override writeMerged(adapter: WrapperAdapter<Ia3Options>, sign: 1 | -1): void {
    if (adapter.gate) throw new PeftError('not-mergeable', `ia3: adapter "${adapter.name}" is gated; a gate is a function of the input.`, { field: 'gate', value: adapter.name, allowed: 'ungated adapters' });
    const vector = adapter.parameters.get('ia3').value;
    if (sign === -1 && tf.tidy(() => tf.any(tf.less(tf.abs(vector), 1e-12)).dataSync()[0])) {
      throw new PeftError('not-mergeable', 'ia3: cannot unmerge a vector with zero entries (the weights lost that information).', { field: 'ia3', allowed: 'vectors with |l| > 1e-12' });
    }
    const base = this.innermostBase() as Linear;
    const feedforward = adapter.options.feedforward;
    const next = tf.tidy(() => {
      const factor = sign === 1 ? vector : tf.reciprocal(vector);
      return {
        weight: tf.mul(base.weight.value, feedforward ? tf.reshape(factor, [-1, 1]) : factor),
        bias: base.bias && !feedforward ? tf.mul(base.bias.value, factor) : undefined,
      };
    });
    const finite = tf.tidy(() => tf.all(tf.isFinite(next.weight)).dataSync()[0] === 1 && (!next.bias || tf.all(tf.isFinite(next.bias)).dataSync()[0] === 1));
    if (!finite) {
      tf.dispose([next.weight, next.bias ?? []]);
      throw new PeftError('merge-not-finite', `ia3: ${sign === 1 ? 'merge' : 'unmerge'} would write non-finite weights; nothing was changed.`, { field: 'ia3' });
    }
    base.weight.assign(next.weight);
    if (next.bias) base.bias!.assign(next.bias);
    tf.dispose([next.weight, next.bias ?? []]);
  }
}
