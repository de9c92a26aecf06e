import { AdapterWrapper, Parameter, PeftError, globalSeeds, tf, type Embedding, type WrapperAdapter } from '@peftjs/core';
import { loraScaling } from './config';

export interface LoraEmbeddingOptions {
  r: number;
  alpha: number;
  useRslora?: boolean;
}

interface LoraEmbeddingAdapterOptions extends Required<LoraEmbeddingOptions> {
  scaling: number;
}

/**
 * LoRA on an embedding table (HF PEFT's `lora.Embedding`): rows of E0 + s·(B·A)ᵀ, looked up as
 * E0[ids] + s·Aᵀ[ids]·Bᵀ, one update per named adapter. A [r, vocab] is stored as `loraEmbeddingA`
 * [vocab, r] so the lookup is a gather of rows, B [dim, r] as `loraEmbeddingB` [r, dim]. As in HF, A
 * starts at zero and B normal (a zero A keeps the model unchanged at init), and there is no dropout
 * on ids. The getters without an adapter name read the first adapter.
 */
export class LoraEmbedding extends AdapterWrapper<[tf.Tensor], tf.Tensor, LoraEmbeddingAdapterOptions> {
  readonly count: number;
  readonly dim: number;
  /** DoRA is not available on embeddings here. */
  readonly useDora = false;

  constructor(base: Embedding, options?: LoraEmbeddingOptions, adapterName = 'default', methodName = 'lora') {
    super(base);
    this.count = base.count;
    this.dim = base.dim;
    if (options) this.addAdapter(adapterName, methodName, loraEmbeddingOptions(options));
  }

  override get base(): Embedding {
    return this.child<Embedding>('base');
  }

  protected createParameters(_adapterName: string, options: LoraEmbeddingAdapterOptions): Record<string, Parameter> {
    if (!Number.isInteger(options.r) || options.r < 1) throw new PeftError('invalid-argument', `LoraEmbedding: r must be a positive integer; got ${options.r}.`, { field: 'r', value: options.r, allowed: 'an integer >= 1' });
    return {
      loraEmbeddingA: new Parameter(tf.zeros([this.count, options.r]), { kind: 'lora_A' }),
      loraEmbeddingB: new Parameter(tf.randomNormal([options.r, this.dim], 0, 1, 'float32', globalSeeds().nextSeed()), { kind: 'lora_B' }),
    };
  }

  /**
   * `weight` resolves to the frozen base table, so tied heads and methods that read
   * `embeddings.word`'s weight keep working through the wrapper (they see E0, as in HF PEFT).
   */
  override parameter(name: string): Parameter {
    return name === 'weight' ? this.base.weight : super.parameter(name);
  }

  protected contribution(adapter: WrapperAdapter<LoraEmbeddingAdapterOptions>, y: tf.Tensor, ids: tf.Tensor): tf.Tensor {
    const rows = tf.gather(adapter.parameters.get('loraEmbeddingA').value, ids.dtype === 'int32' ? ids : ids.toInt()).reshape([-1, adapter.options.r]) as tf.Tensor2D;
    return tf.mul(tf.matMul(rows, adapter.parameters.get('loraEmbeddingB').value as tf.Tensor2D), adapter.options.scaling).reshape(y.shape);
  }

  /** s·Aᵀ·Bᵀ [vocab, dim]: merge adds it to the table (a tied LM head reads the merged table too, as in HF PEFT). */
  protected override deltaWeight(adapter: WrapperAdapter<LoraEmbeddingAdapterOptions>): tf.Tensor {
    return tf.tidy(() => tf.mul(tf.matMul(adapter.parameters.get('loraEmbeddingA').value as tf.Tensor2D, adapter.parameters.get('loraEmbeddingB').value as tf.Tensor2D), adapter.options.scaling));
  }

  override get gateInputSize(): number {
    throw new PeftError('not-implemented', 'A LoRA embedding update cannot be gated (its input is token ids).', { field: 'gate', value: 'LoraEmbedding', allowed: 'LoRA on linears' });
  }

  /** Aᵀ, [vocab, r]. */
  get loraA(): Parameter {
    return this.primary.parameters.get('loraEmbeddingA');
  }

  /** Bᵀ, [r, dim]. */
  get loraB(): Parameter {
    return this.primary.parameters.get('loraEmbeddingB');
  }

  get loraMagnitude(): undefined {
    return undefined;
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

  get scaling(): number {
    return this.primary.options.scaling;
  }

  /** The first adapter's s·Aᵀ·Bᵀ. Caller owns it. */
  delta(): tf.Tensor2D {
    return this.deltaWeight(this.primary) as tf.Tensor2D;
  }

}

/** Options with defaults and the derived scale. */
export function loraEmbeddingOptions(options: LoraEmbeddingOptions): LoraEmbeddingAdapterOptions {
  const useRslora = options.useRslora ?? false;
  return { r: options.r, alpha: options.alpha, useRslora, scaling: loraScaling(options.alpha, options.r, useRslora) };
}
