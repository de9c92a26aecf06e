import { Module, Parameter, PeftError, globalSeeds, tf, type Embedding } from '@peftjs/core';
import { loraScaling } from './config';

export interface LoraEmbeddingOptions {
  r: number;
  alpha: number;
  useRslora?: boolean;
}

/**
 * LoRA on an embedding table (HF PEFT's `lora.Embedding`): rows of E0 + s·(B·A)ᵀ, looked up as
 * E0[ids] + s·Aᵀ[ids]·Bᵀ. A [r, vocab] is stored as `loraEmbeddingA` [vocab, r] so the lookup is a
 * gather of rows, B [dim, r] as `loraEmbeddingB` [r, dim]. As in HF, A starts at zero and B normal
 * (a zero A keeps the model unchanged at init), and there is no dropout on ids.
 */
export class LoraEmbedding extends Module {
  readonly count: number;
  readonly dim: number;
  readonly r: number;
  readonly alpha: number;
  readonly useRslora: boolean;
  readonly scaling: number;
  /** DoRA is not available on embeddings here. */
  readonly useDora = false;
  enabled = true;
  private mergedFlag = false;

  constructor(base: Embedding, options: LoraEmbeddingOptions) {
    super();
    if (!Number.isInteger(options.r) || options.r < 1) throw new PeftError('invalid-argument', `LoraEmbedding: r must be a positive integer; got ${options.r}.`, { field: 'r', value: options.r, allowed: 'an integer >= 1' });
    this.role = base.role;
    this.training = base.training;
    this.count = base.count;
    this.dim = base.dim;
    this.r = options.r;
    this.alpha = options.alpha;
    this.useRslora = options.useRslora ?? false;
    this.scaling = loraScaling(options.alpha, options.r, this.useRslora);
    this.registerModule('base', base);
    this.registerParameter('loraEmbeddingA', new Parameter(tf.zeros([this.count, this.r]), { kind: 'lora_A' }));
    this.registerParameter('loraEmbeddingB', new Parameter(tf.randomNormal([this.r, this.dim], 0, 1, 'float32', globalSeeds().nextSeed()), { kind: 'lora_B' }));
  }

  get base(): Embedding {
    return this.child<Embedding>('base');
  }

  /** Aᵀ, [vocab, r]. */
  get loraA(): Parameter {
    return this.parameter('loraEmbeddingA');
  }

  /** Bᵀ, [r, dim]. */
  get loraB(): Parameter {
    return this.parameter('loraEmbeddingB');
  }

  get loraMagnitude(): undefined {
    return undefined;
  }

  get merged(): boolean {
    return this.mergedFlag;
  }

  /**
   * `weight` resolves to the frozen base table, so tied heads and methods that read
   * `embeddings.word`'s weight keep working through the wrapper (they see E0, as in HF PEFT).
   */
  override parameter(name: string): Parameter {
    return name === 'weight' ? this.base.weight : super.parameter(name);
  }

  forward(ids: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.mergedFlag) return this.base.forward(ids);
    return tf.tidy(() => {
      const y = this.base.forward(ids);
      const rows = tf.gather(this.loraA.value, ids.dtype === 'int32' ? ids : ids.toInt()).reshape([-1, this.r]) as tf.Tensor2D;
      return tf.add(y, tf.mul(tf.matMul(rows, this.loraB.value as tf.Tensor2D), this.scaling).reshape(y.shape));
    });
  }

  /** s·Aᵀ·Bᵀ [vocab, dim]. Caller owns it. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.loraA.value as tf.Tensor2D, this.loraB.value as tf.Tensor2D), this.scaling));
  }

  /** E ← E + s·Aᵀ·Bᵀ, checked finite first. A tied LM head reads the merged table too (as in HF PEFT). */
  merge(): void {
    if (this.mergedFlag) return;
    this.addToBase(1);
    this.mergedFlag = true;
  }

  unmerge(): void {
    if (!this.mergedFlag) return;
    this.addToBase(-1);
    this.mergedFlag = false;
  }

  private addToBase(sign: 1 | -1): void {
    const weight = this.base.weight;
    const next = tf.tidy(() => (sign === 1 ? tf.add(weight.value, this.deltaWeight()) : tf.sub(weight.value, this.deltaWeight())));
    if (!tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0] === 1)) {
      next.dispose();
      throw new PeftError('merge-not-finite', 'LoRA embedding merge would write non-finite weights; nothing was changed.', { field: 'loraEmbeddingB', allowed: 'finite LoRA weights' });
    }
    weight.assign(next);
    next.dispose();
  }
}
