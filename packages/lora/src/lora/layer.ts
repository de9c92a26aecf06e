import { Dropout, Linear, LinearAdapterWrapper, Parameter, PeftError, detach, globalSeeds, tf, writeFinite, type Module, type WrapperAdapter } from '@peftjs/core';
import { loraScaling, type LoraInit } from './config';

export { isLinearLike, type LinearLike } from '@peftjs/core';

export interface LoraLinearOptions {
  r: number;
  alpha: number;
  useRslora?: boolean;
  dropout?: number;
  init?: LoraInit;
  /** Decompose into magnitude and direction (DoRA); the base must be a Linear. */
  useDora?: boolean;
}

/** One LoRA adapter's options with its derived scale. */
interface LoraAdapterOptions extends Required<LoraLinearOptions> {
  scaling: number;
}

/**
 * A frozen linear plus trainable low-rank updates, one per named adapter (Hu et al., "LoRA: Low-Rank
 * Adaptation of Large Language Models", 2022, §4.1 Eq. 3): h = W0·x + s·B·A·x with s = α/r (α/√r with
 * rsLoRA). With our [in, out] weight layout the update is computed as x·Aᵀ·Bᵀ, so A is stored
 * transposed, `loraA` [in, r], and B as `loraB` [r, out]: two non-transposed matmuls, the fast path on
 * every backend. HF PEFT's files hold lora_A [r, in] and lora_B [out, r]; hf-format.ts converts.
 *
 * With `useDora` it is DoRA (Liu et al., "DoRA: Weight-Decomposed Low-Rank Adaptation", 2024,
 * §4.1 Eq. 5): W' = m ⊙ (W0 + s·Aᵀ·Bᵀ) / ‖W0 + s·Aᵀ·Bᵀ‖_c, a trainable magnitude `loraMagnitude` [out]
 * per output channel (initialised to ‖W0‖_c, so the model is unchanged at init) times the direction.
 * The column norm is taken over the input dimension per output channel and detached (§4.3), as in
 * HF PEFT's DoraLinearLayer.
 *
 * Adapters live inside the layer by name (core's LinearAdapterWrapper); the getters without an
 * adapter name (`loraA`, `r`, `merge()`, ...) read the first adapter, the one a single-adapter
 * model has.
 */
export class LoraLinear extends LinearAdapterWrapper<LoraAdapterOptions> {
  private readonly dropouts = new Map<string, Dropout>();
  /** DoRA while merged: the factor m/‖W0 + ΔW‖_c the merge multiplied W0 + ΔW by, per adapter, for unmerge. */
  private readonly doraFactors = new Map<string, tf.Tensor>();

  /** Wraps `base`; with options, adds the adapter `adapterName` at once. */
  constructor(base: Module<[tf.Tensor], tf.Tensor>, options?: LoraLinearOptions, adapterName = 'default', methodName = 'lora') {
    super(base);
    if (options) this.addAdapter(adapterName, methodName, loraOptions(options));
  }

  protected createParameters(adapterName: string, options: LoraAdapterOptions): Record<string, Parameter> {
    if (!Number.isInteger(options.r) || options.r < 1) throw new PeftError('invalid-argument', `LoraLinear: r must be a positive integer; got ${options.r}.`, { field: 'r', value: options.r, allowed: 'an integer >= 1' });
    if (options.useDora && !(this.base instanceof Linear)) {
      throw new PeftError('not-implemented', `DoRA needs the frozen weight of a Linear; the target is a ${this.base.constructor.name}.`, { field: 'useDora', value: this.base.constructor.name, allowed: ['Linear'] });
    }
    this.dropouts.set(adapterName, new Dropout(options.dropout));
    const parameters: Record<string, Parameter> = {
      loraA: new Parameter(initialA(this.inFeatures, options.r, options.init), { kind: 'lora_A' }),
      loraB: new Parameter(tf.zeros([options.r, this.outFeatures]), { kind: 'lora_B' }),
    };
    if (options.useDora) parameters.loraMagnitude = new Parameter(columnNorm((this.base as Linear).weight.value), { kind: 'lora_magnitude' });
    return parameters;
  }

  override deleteAdapter(name: string): void {
    super.deleteAdapter(name);
    this.dropouts.delete(name);
  }

  protected contribution(adapter: WrapperAdapter<LoraAdapterOptions>, y: tf.Tensor, x: tf.Tensor): tf.Tensor {
    const { scaling, useDora } = adapter.options;
    const dropout = this.dropouts.get(adapter.name)!;
    dropout.training = this.training;
    const input = dropout.forward(x);
    const flat = input.reshape([-1, this.inFeatures]) as tf.Tensor2D;
    const down = tf.matMul(flat, adapter.parameters.get('loraA').value as tf.Tensor2D);
    // Scale the [N, r] intermediate, not the [N, out] product: the tape then keeps only rank-sized
    // tensors for this path (a scaled [N, out] product would be held for its gradient).
    if (!useDora) return tf.matMul(tf.mul(down, scaling), adapter.parameters.get('loraB').value as tf.Tensor2D).reshape(y.shape);
    const lowRank: tf.Tensor2D = tf.matMul(down, adapter.parameters.get('loraB').value as tf.Tensor2D);
    return this.doraUpdate(adapter, x, input, y, lowRank).reshape(y.shape);
  }

  /**
   * y' − y for DoRA, as HF PEFT's DoraLinearLayer computes it: with k = m / ‖W0 + s·ΔW‖_c (detached),
   * (k − 1)·(x_d·W0) + k·s·lowRank, where x_d is the dropped-out input (x itself without dropout, so
   * x·W0 is y minus the bias). Without dropout this is k·(x·W0 + s·x·Aᵀ·Bᵀ) + b − y, Eq. 5 applied to x.
   */
  private doraUpdate(adapter: WrapperAdapter<LoraAdapterOptions>, x: tf.Tensor, input: tf.Tensor, y: tf.Tensor, lowRank: tf.Tensor): tf.Tensor {
    const base = this.base as Linear;
    const norm = detach(columnNorm(tf.add(base.weight.value, this.deltaWeightOf(adapter))));
    const factor = tf.div(adapter.parameters.get('loraMagnitude').value, norm);
    const flatY = y.reshape([-1, this.outFeatures]);
    const baseResult = input === x ? (base.bias ? tf.sub(flatY, base.bias.value) : flatY) : tf.matMul(input.reshape([-1, this.inFeatures]) as tf.Tensor2D, base.weight.value as tf.Tensor2D);
    return tf.add(tf.mul(tf.sub(factor, 1), baseResult), tf.mul(tf.mul(factor, adapter.options.scaling), lowRank));
  }

  /** An adapter's update s·Aᵀ·Bᵀ in the base weight's [in, out] layout. Caller owns it. */
  protected override deltaWeight(adapter: WrapperAdapter<LoraAdapterOptions>): tf.Tensor {
    return this.deltaWeightOf(adapter);
  }

  private deltaWeightOf(adapter: WrapperAdapter<LoraAdapterOptions>): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(adapter.parameters.get('loraA').value as tf.Tensor2D, adapter.parameters.get('loraB').value as tf.Tensor2D), adapter.options.scaling));
  }

  /** DoRA: W ← k ⊙ (W + s·Aᵀ·Bᵀ), k = m/‖W + s·Aᵀ·Bᵀ‖_c, and back; plain LoRA: the base's additive merge. */
  protected override writeMerged(adapter: WrapperAdapter<LoraAdapterOptions>, sign: 1 | -1): void {
    if (!adapter.options.useDora) {
      super.writeMerged(adapter, sign);
      return;
    }
    const weight = (this.base as Linear).weight;
    if (sign === -1) {
      const factor = this.doraFactors.get(adapter.name)!;
      tf.tidy(() => weight.assign(tf.sub(tf.div(weight.value, factor), this.deltaWeightOf(adapter))));
      factor.dispose();
      this.doraFactors.delete(adapter.name);
      return;
    }
    const factor = tf.tidy(() => tf.div(adapter.parameters.get('loraMagnitude').value, columnNorm(tf.add(weight.value, this.deltaWeightOf(adapter)))));
    if (!tf.tidy(() => tf.all(tf.greater(tf.abs(factor), 1e-12)).dataSync()[0] === 1)) {
      factor.dispose();
      throw new PeftError('merge-not-finite', 'DoRA merge would use a zero magnitude (which unmerge cannot undo); nothing was changed.', { field: 'loraMagnitude', allowed: 'non-zero magnitudes' });
    }
    try {
      writeFinite(weight, () => tf.mul(tf.add(weight.value, this.deltaWeightOf(adapter)), factor), 'DoRA merge');
    } catch (error) {
      factor.dispose();
      throw error;
    }
    this.doraFactors.set(adapter.name, factor);
  }

  /** The first adapter (the only one of a single-adapter model). */
  /** Aᵀ, [in, r], of the first adapter. */
  get loraA(): Parameter {
    return this.primary.parameters.get('loraA');
  }

  /** Bᵀ, [r, out], of the first adapter. */
  get loraB(): Parameter {
    return this.primary.parameters.get('loraB');
  }

  /** DoRA's magnitude m [out] of the first adapter; undefined for plain LoRA. */
  get loraMagnitude(): Parameter | undefined {
    return this.primary.parameters.maybeParameter('loraMagnitude');
  }

  get r(): number {
    return this.primary.options.r;
  }

  get alpha(): number {
    return this.primary.options.alpha;
  }

  get useRslora(): boolean {
    return this.primary.options.useRslora;
  }

  /** The scale s multiplying B·A (first adapter). */
  get scaling(): number {
    return this.primary.options.scaling;
  }

  get useDora(): boolean {
    return this.primary.options.useDora;
  }

  /** The first adapter's update s·Aᵀ·Bᵀ. Caller owns it. */
  delta(): tf.Tensor2D {
    return this.deltaWeightOf(this.primary);
  }

  /** Merges the first adapter (see mergeAdapter). */
}

/** Options with defaults and the derived scale. */
export function loraOptions(options: LoraLinearOptions): LoraAdapterOptions {
  const useRslora = options.useRslora ?? false;
  return {
    r: options.r,
    alpha: options.alpha,
    useRslora,
    dropout: options.dropout ?? 0,
    init: options.init ?? 'kaiming-uniform',
    useDora: options.useDora ?? false,
    scaling: loraScaling(options.alpha, options.r, useRslora),
  };
}

/** ‖W‖_c for W [in, out]: the L2 norm over the input dimension, one per output channel ([out]). */
export function columnNorm(weight: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.sqrt(tf.sum(tf.square(weight), 0)) as tf.Tensor1D);
}

/**
 * Aᵀ [in, r]. `kaiming-uniform` is HF PEFT's default (`kaiming_uniform_(a=√5)` on A [r, in], whose
 * bound √(6/((1+a²)·in)) is 1/√in); `gaussian` is HF's normal init with std 1/r.
 */
function initialA(inFeatures: number, r: number, init: LoraInit): tf.Tensor {
  const seed = globalSeeds().nextSeed();
  if (init === 'gaussian') return tf.randomNormal([inFeatures, r], 0, 1 / r, 'float32', seed);
  const bound = 1 / Math.sqrt(inFeatures);
  return tf.randomUniform([inFeatures, r], -bound, bound, 'float32', seed);
}
