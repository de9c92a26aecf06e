import { Dropout, Linear, Module, Parameter, PeftError, detach, globalSeeds, leanAdd, tf } from '@peftjs/core';
import { loraScaling, type LoraInit } from './config';

/** A module LoRA can wrap: a Linear, or a wrapper of one that keeps its feature sizes (another LoraLinear). */
export type LinearLike = Module<[tf.Tensor], tf.Tensor> & { readonly inFeatures: number; readonly outFeatures: number };

export interface LoraLinearOptions {
  r: number;
  alpha: number;
  useRslora?: boolean;
  dropout?: number;
  init?: LoraInit;
  /** Decompose into magnitude and direction (DoRA); the base must be a Linear. */
  useDora?: boolean;
}

/**
 * A frozen linear plus a trainable low-rank update (Hu et al., "LoRA: Low-Rank Adaptation of Large
 * Language Models", 2022, §4.1 Eq. 3): h = W0·x + s·B·A·x with s = α/r (α/√r with rsLoRA).
 * With our [in, out] weight layout the update is computed as x·Aᵀ·Bᵀ, so A is stored transposed,
 * `loraA` [in, r], and B as `loraB` [r, out]: two non-transposed matmuls, the fast path on every
 * backend. HF PEFT's files hold lora_A [r, in] and lora_B [out, r]; hf-format.ts converts.
 *
 * With `useDora` it is DoRA (Liu et al., "DoRA: Weight-Decomposed Low-Rank Adaptation", 2024,
 * §4.1 Eq. 5): W' = m ⊙ (W0 + s·Aᵀ·Bᵀ) / ‖W0 + s·Aᵀ·Bᵀ‖_c, a trainable magnitude `loraMagnitude` [out]
 * per output channel (initialised to ‖W0‖_c, so the model is unchanged at init) times the direction.
 * The column norm is taken over the input dimension per output channel and detached (§4.3), as in
 * HF PEFT's DoraLinearLayer.
 */
export class LoraLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly r: number;
  readonly alpha: number;
  readonly useRslora: boolean;
  /** The scale s multiplying B·A. */
  readonly scaling: number;
  readonly useDora: boolean;
  enabled = true;
  private mergedFlag = false;
  /** DoRA while merged: the factor m/‖W0 + ΔW‖_c the merge multiplied W0 + ΔW by, for unmerge. */
  private doraFactor: tf.Tensor | undefined;

  constructor(base: LinearLike, options: LoraLinearOptions) {
    super();
    if (!Number.isInteger(options.r) || options.r < 1) throw new PeftError('invalid-argument', `LoraLinear: r must be a positive integer; got ${options.r}.`, { field: 'r', value: options.r, allowed: 'an integer >= 1' });
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.r = options.r;
    this.alpha = options.alpha;
    this.useRslora = options.useRslora ?? false;
    this.scaling = loraScaling(options.alpha, options.r, this.useRslora);
    this.useDora = options.useDora ?? false;
    if (this.useDora && !(base instanceof Linear)) {
      throw new PeftError('not-implemented', `DoRA needs the frozen weight of a Linear; the target is a ${base.constructor.name}.`, { field: 'useDora', value: base.constructor.name, allowed: ['Linear'] });
    }
    this.registerModule('base', base);
    this.registerModule('dropout', new Dropout(options.dropout ?? 0));
    // Follow the wrapped module's mode, so wrapping a model in eval mode keeps LoRA dropout off.
    this.train(base.training);
    this.registerParameter('loraA', new Parameter(initialA(this.inFeatures, this.r, options.init ?? 'kaiming-uniform'), { kind: 'lora_A' }));
    this.registerParameter('loraB', new Parameter(tf.zeros([this.r, this.outFeatures]), { kind: 'lora_B' }));
    if (this.useDora) this.registerParameter('loraMagnitude', new Parameter(columnNorm((base as Linear).weight.value), { kind: 'lora_magnitude' }));
  }

  get base(): LinearLike {
    return this.child<LinearLike>('base');
  }

  /** Aᵀ, [in, r]. */
  get loraA(): Parameter {
    return this.parameter('loraA');
  }

  /** Bᵀ, [r, out]. */
  get loraB(): Parameter {
    return this.parameter('loraB');
  }

  /** DoRA's magnitude m [out]; undefined for plain LoRA. */
  get loraMagnitude(): Parameter | undefined {
    return this.maybeParameter('loraMagnitude');
  }

  get merged(): boolean {
    return this.mergedFlag;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.mergedFlag) return this.base.forward(x);
    return tf.tidy(() => {
      const y = this.base.forward(x);
      const input = this.child<Dropout>('dropout').forward(x);
      const flat = input.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      const down = tf.matMul(flat, this.loraA.value as tf.Tensor2D);
      // Scale the [N, r] intermediate, not the [N, out] product: the tape then keeps only rank-sized
      // tensors for this path (a scaled [N, out] product would be held for its gradient).
      // leanAdd: a plain add would keep y and the update alive until backward, for shapes only.
      if (!this.useDora) return leanAdd(y, tf.matMul(tf.mul(down, this.scaling), this.loraB.value as tf.Tensor2D).reshape(y.shape));
      const lowRank: tf.Tensor2D = tf.matMul(down, this.loraB.value as tf.Tensor2D);
      return tf.add(y, this.doraUpdate(x, input, y, lowRank).reshape(y.shape));
    });
  }

  /**
   * y' − y for DoRA, as HF PEFT's DoraLinearLayer computes it: with k = m / ‖W0 + s·ΔW‖_c (detached),
   * (k − 1)·(x_d·W0) + k·s·lowRank, where x_d is the dropped-out input (x itself without dropout, so
   * x·W0 is y minus the bias). Without dropout this is k·(x·W0 + s·x·Aᵀ·Bᵀ) + b − y, Eq. 5 applied to x.
   */
  private doraUpdate(x: tf.Tensor, input: tf.Tensor, y: tf.Tensor, lowRank: tf.Tensor): tf.Tensor {
    const base = this.base as Linear;
    const norm = detach(columnNorm(tf.add(base.weight.value, this.deltaWeight())));
    const factor = tf.div(this.loraMagnitude!.value, norm);
    const flatY = y.reshape([-1, this.outFeatures]);
    const baseResult = input === x ? (base.bias ? tf.sub(flatY, base.bias.value) : flatY) : tf.matMul(input.reshape([-1, this.inFeatures]) as tf.Tensor2D, base.weight.value as tf.Tensor2D);
    return tf.add(tf.mul(tf.sub(factor, 1), baseResult), tf.mul(tf.mul(factor, this.scaling), lowRank));
  }

  /** The update s·Aᵀ·Bᵀ in the base weight's [in, out] layout. Caller owns it. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.loraA.value as tf.Tensor2D, this.loraB.value as tf.Tensor2D), this.scaling));
  }

  /**
   * W ← W + s·Aᵀ·Bᵀ on the innermost Linear (DoRA: W ← k ⊙ (W + s·Aᵀ·Bᵀ), k = m/‖W + s·Aᵀ·Bᵀ‖_c);
   * checked finite before anything is written.
   */
  merge(): void {
    if (this.mergedFlag) return;
    if (this.useDora) this.mergeDora();
    else this.addToBase(1, 'merge');
    this.mergedFlag = true;
  }

  /** W ← W − s·Aᵀ·Bᵀ (DoRA: W ← W / k − s·Aᵀ·Bᵀ with the k of the merge). */
  unmerge(): void {
    if (!this.mergedFlag) return;
    if (this.useDora) this.unmergeDora();
    else this.addToBase(-1, 'unmerge');
    this.mergedFlag = false;
  }

  /**
   * The Linear whose weight merge writes: the base, through plain LoraLinear wrappers (their updates
   * add). A DoRA layer in between rescales W, so an outer update cannot be folded past it.
   */
  mergeTarget(): Linear | undefined {
    let current: Module<any, any> = this.base;
    while (current instanceof LoraLinear && !current.useDora) current = current.base;
    return current instanceof Linear ? current : undefined;
  }

  private mergeDora(): void {
    const weight = (this.base as Linear).weight;
    const { next, factor } = tf.tidy(() => {
      const updated = tf.add(weight.value, this.deltaWeight());
      const k = tf.div(this.loraMagnitude!.value, columnNorm(updated));
      return { next: tf.mul(updated, k), factor: k };
    });
    const ok = tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0] === 1 && tf.all(tf.greater(tf.abs(factor), 1e-12)).dataSync()[0] === 1);
    if (!ok) {
      tf.dispose([next, factor]);
      throw new PeftError('merge-not-finite', 'DoRA merge would write non-finite weights or use a zero magnitude (which unmerge cannot undo); nothing was changed.', {
        field: 'loraMagnitude',
        allowed: 'finite weights and non-zero magnitudes',
      });
    }
    weight.assign(next);
    next.dispose();
    this.doraFactor = factor;
  }

  private unmergeDora(): void {
    const weight = (this.base as Linear).weight;
    const factor = this.doraFactor!;
    tf.tidy(() => weight.assign(tf.sub(tf.div(weight.value, factor), this.deltaWeight())));
    factor.dispose();
    this.doraFactor = undefined;
  }

  private addToBase(sign: 1 | -1, what: string): void {
    const target = this.mergeTarget();
    if (!target) {
      throw new PeftError('not-mergeable', `LoRA cannot ${what}: the wrapped module is a ${this.base.constructor.name}, not a Linear (or a LoraLinear over one).`, {
        field: 'base',
        value: this.base.constructor.name,
        allowed: ['Linear', 'LoraLinear'],
      });
    }
    const next = tf.tidy(() => {
      const delta = this.deltaWeight();
      return sign === 1 ? tf.add(target.weight.value, delta) : tf.sub(target.weight.value, delta);
    });
    const finite = tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0] === 1);
    if (!finite) {
      next.dispose();
      throw new PeftError('merge-not-finite', `LoRA ${what} would write non-finite weights; nothing was changed.`, { field: 'loraB', allowed: 'finite LoRA weights' });
    }
    target.weight.assign(next);
    next.dispose();
  }
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
