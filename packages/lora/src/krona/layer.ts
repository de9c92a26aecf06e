import { LinearAdapterWrapper, Parameter, PeftError, globalSeeds, tf, type LinearLike, type Module, type WrapperAdapter } from '@peftjs/core';
import { squarestFactor } from './config';

/** A module KronA can wrap: a Linear, or a wrapper of one that keeps its feature sizes. */
export type KronaLinearLike = LinearLike;

export interface KronaLinearOptions {
  /** Rows a1 of A; default the largest divisor of `in` not above √in. */
  inFactor?: number;
  /** Columns a2 of A; default the largest divisor of `out` not above √out. */
  outFactor?: number;
  /** Scale s of the update; default 1. */
  scale?: number;
}

/** One KronA adapter's resolved options: the factor shapes and the scale. */
export interface KronaAdapterOptions {
  /** A's shape [a1, a2]. */
  readonly aShape: readonly [number, number];
  /** B's shape [b1, b2]. */
  readonly bShape: readonly [number, number];
  readonly scale: number;
}

/**
 * A frozen linear plus a trainable Kronecker-product update per named adapter (Edalati et al., "KronA:
 * Parameter Efficient Tuning with Kronecker Adapter", 2022, §3 "KronA"): y = x·W + s·x·(A ⊗ B) with
 * A [a1, a2], B [b1, b2], a1·b1 = in, a2·b2 = out, in our [in, out] weight layout.
 *
 * Forward never builds A ⊗ B (the paper's Kronecker–vector product trick, restated for row vectors):
 * (A ⊗ B)[i1·b1 + i2, j1·b2 + j2] = A[i1, j1]·B[i2, j2], so with x reshaped row-major to X [a1, b1],
 *   (x·(A ⊗ B))[j1·b2 + j2] = Σ_{i1,i2} X[i1, i2]·A[i1, j1]·B[i2, j2] = (Aᵀ·X·B)[j1, j2],
 * i.e. y = vec_row(Aᵀ·X·B). For N rows: X·B as one [N·a1, b1]·[b1, b2] matmul, swap the last two axes to
 * [N, b2, a1], one [N·b2, a1]·[a1, a2] matmul, swap back to [N, a2, b2] and flatten to [N, out]. Cost
 * N·(in·b2 + out·a1) instead of N·in·out, and no [in, out] tensor is kept by the tape.
 *
 * B starts at zero (A Kaiming-uniform, bound 1/√a1), so the model is unchanged at init, as with LoRA's B.
 * Only merge materialises A ⊗ B (`deltaWeight`); merging goes through wrappers below (LoRA, another
 * KronA) into the innermost Linear, as core's AdapterWrapper does for every additive update.
 *
 * Adapters live inside the layer by name (core's LinearAdapterWrapper); the getters without an
 * adapter name (`kronaA`, `aShape`, `merge()`, ...) read the first adapter, or the one a
 * `forAdapter(name)` view names.
 */
export class KronaLinear extends LinearAdapterWrapper<KronaAdapterOptions> {
  /** Wraps `base`; unless options is null, adds the adapter `adapterName` at once (defaults for missing options). */
  constructor(base: Module<[tf.Tensor], tf.Tensor>, options: KronaLinearOptions | null = {}, adapterName = 'default', methodName = 'krona') {
    super(base);
    if (options) this.addAdapter(adapterName, methodName, this.resolveOptions(options));
  }

  /** Factor shapes and scale for this layer's sizes: defaults filled in, factors checked to divide them. */
  resolveOptions(options: KronaLinearOptions): KronaAdapterOptions {
    const a1 = options.inFactor ?? squarestFactor(this.inFeatures);
    const a2 = options.outFactor ?? squarestFactor(this.outFeatures);
    checkFactor('inFactor', a1, this.inFeatures);
    checkFactor('outFactor', a2, this.outFeatures);
    return { aShape: [a1, a2], bShape: [this.inFeatures / a1, this.outFeatures / a2], scale: options.scale ?? 1 };
  }

  protected createParameters(_adapterName: string, options: KronaAdapterOptions): Record<string, Parameter> {
    const [a1, a2] = options.aShape;
    const bound = 1 / Math.sqrt(a1);
    return {
      kronaA: new Parameter(tf.randomUniform([a1, a2], -bound, bound, 'float32', globalSeeds().nextSeed()), { kind: 'krona_A' }),
      kronaB: new Parameter(tf.zeros([...options.bShape]), { kind: 'krona_B' }),
    };
  }

  /** s·x·(A ⊗ B) by the Kronecker–vector product trick (see the class comment). */
  protected contribution(adapter: WrapperAdapter<KronaAdapterOptions>, y: tf.Tensor, x: tf.Tensor): tf.Tensor {
    const update = kroneckerProductRows(x.reshape([-1, this.inFeatures]) as tf.Tensor2D, adapter.parameters.get('kronaA').value as tf.Tensor2D, adapter.parameters.get('kronaB').value as tf.Tensor2D);
    return tf.mul(update, adapter.options.scale).reshape(y.shape);
  }

  /** s·(A ⊗ B) of an adapter (the first by default) in the base weight's [in, out] layout, materialised. Caller owns it. */
  override deltaWeight(adapter: WrapperAdapter<KronaAdapterOptions> = this.primary): tf.Tensor2D {
    const [a1, a2] = adapter.options.aShape;
    const [b1, b2] = adapter.options.bShape;
    return tf.tidy(() => {
      // [a1, 1, a2, 1] · [1, b1, 1, b2] -> [a1, b1, a2, b2]: row i1·b1 + i2, column j1·b2 + j2.
      const product = tf.mul(adapter.parameters.get('kronaA').value.reshape([a1, 1, a2, 1]), adapter.parameters.get('kronaB').value.reshape([1, b1, 1, b2]));
      return tf.mul(product.reshape([this.inFeatures, this.outFeatures]), adapter.options.scale) as tf.Tensor2D;
    });
  }

  /** A [a1, a2] of the first adapter. */
  get kronaA(): Parameter {
    return this.primary.parameters.get('kronaA');
  }

  /** B [b1, b2] of the first adapter. */
  get kronaB(): Parameter {
    return this.primary.parameters.get('kronaB');
  }

  /** A's shape [a1, a2] (first adapter). */
  get aShape(): readonly [number, number] {
    return this.primary.options.aShape;
  }

  /** B's shape [b1, b2] (first adapter). */
  get bShape(): readonly [number, number] {
    return this.primary.options.bShape;
  }

  /** The scale s of the first adapter. */
  get scale(): number {
    return this.primary.options.scale;
  }
}

/**
 * x·(A ⊗ B) for rows x [N, a1·b1] without building A ⊗ B: vec_row(Aᵀ·X·B) per row (see KronaLinear).
 * Only rank-2, non-transposed matmuls, the fast path on every backend.
 */
export function kroneckerProductRows(x: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [a1, a2] = a.shape;
    const [b1, b2] = b.shape;
    const rows = x.shape[0];
    const xb = tf.matMul(x.reshape([rows * a1, b1]) as tf.Tensor2D, b); // [N·a1, b2]
    const swapped = tf.transpose(xb.reshape([rows, a1, b2]), [0, 2, 1]).reshape([rows * b2, a1]) as tf.Tensor2D;
    const product = tf.matMul(swapped, a); // [N·b2, a2] = (Aᵀ·X·B)ᵀ per row
    return tf.transpose(product.reshape([rows, b2, a2]), [0, 2, 1]).reshape([rows, a2 * b2]) as tf.Tensor2D;
  });
}

function checkFactor(field: 'inFactor' | 'outFactor', factor: number, size: number): void {
  if (!Number.isInteger(factor) || factor < 1 || size % factor !== 0) {
    throw new PeftError('invalid-argument', `KronA: ${field} ${factor} must be a positive divisor of the target's ${field === 'inFactor' ? 'input' : 'output'} size ${size}.`, {
      field,
      value: factor,
      allowed: `a divisor of ${size}`,
    });
  }
}
