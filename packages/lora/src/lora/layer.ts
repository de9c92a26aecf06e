import { Dropout, Linear, Module, Parameter, PeftError, globalSeeds, tf } from '@peftjs/core';
import { loraScaling, type LoraInit } from './config';

/** A module LoRA can wrap: a Linear, or a wrapper of one that keeps its feature sizes (another LoraLinear). */
export type LinearLike = Module<[tf.Tensor], tf.Tensor> & { readonly inFeatures: number; readonly outFeatures: number };

export interface LoraLinearOptions {
  r: number;
  alpha: number;
  useRslora?: boolean;
  dropout?: number;
  init?: LoraInit;
}

/**
 * A frozen linear plus a trainable low-rank update (Hu et al., "LoRA: Low-Rank Adaptation of Large
 * Language Models", 2022, §4.1 Eq. 3): h = W0·x + s·B·A·x with s = α/r (α/√r with rsLoRA).
 * With our [in, out] weight layout the update is computed as x·Aᵀ·Bᵀ, so A is stored transposed,
 * `loraA` [in, r], and B as `loraB` [r, out]: two non-transposed matmuls, the fast path on every
 * backend. HF PEFT's files hold lora_A [r, in] and lora_B [out, r]; hf-format.ts converts.
 */
export class LoraLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly r: number;
  readonly alpha: number;
  readonly useRslora: boolean;
  /** The scale s multiplying B·A. */
  readonly scaling: number;
  enabled = true;
  private mergedFlag = false;

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
    this.registerModule('base', base);
    this.registerModule('dropout', new Dropout(options.dropout ?? 0));
    // Follow the wrapped module's mode, so wrapping a model in eval mode keeps LoRA dropout off.
    this.train(base.training);
    this.registerParameter('loraA', new Parameter(initialA(this.inFeatures, this.r, options.init ?? 'kaiming-uniform'), { kind: 'lora_A' }));
    this.registerParameter('loraB', new Parameter(tf.zeros([this.r, this.outFeatures]), { kind: 'lora_B' }));
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

  get merged(): boolean {
    return this.mergedFlag;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.mergedFlag) return this.base.forward(x);
    return tf.tidy(() => {
      const y = this.base.forward(x);
      const input = this.child<Dropout>('dropout').forward(x);
      const flat = input.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      const update = tf.mul(tf.matMul(tf.matMul(flat, this.loraA.value as tf.Tensor2D), this.loraB.value as tf.Tensor2D), this.scaling);
      return tf.add(y, update.reshape(y.shape));
    });
  }

  /** The update s·Aᵀ·Bᵀ in the base weight's [in, out] layout. Caller owns it. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.loraA.value as tf.Tensor2D, this.loraB.value as tf.Tensor2D), this.scaling));
  }

  /** W ← W + s·Aᵀ·Bᵀ on the innermost Linear; checked finite before anything is written. */
  merge(): void {
    if (this.mergedFlag) return;
    this.addToBase(1, 'merge');
    this.mergedFlag = true;
  }

  /** W ← W − s·Aᵀ·Bᵀ. */
  unmerge(): void {
    if (!this.mergedFlag) return;
    this.addToBase(-1, 'unmerge');
    this.mergedFlag = false;
  }

  /** The Linear whose weight merge writes: the base, through any LoraLinear wrappers (their updates add). */
  mergeTarget(): Linear | undefined {
    let current: Module<any, any> = this.base;
    while (current instanceof LoraLinear) current = current.base;
    return current instanceof Linear ? current : undefined;
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
