import { Linear, Module, Parameter, PeftError, globalSeeds, tf } from '@peftjs/core';
import { LoraLinear } from '../lora/layer';
import { squarestFactor } from './config';

/** A module KronA can wrap: a Linear, or a wrapper of one that keeps its feature sizes. */
export type KronaLinearLike = Module<[tf.Tensor], tf.Tensor> & { readonly inFeatures: number; readonly outFeatures: number };

export interface KronaLinearOptions {
  /** Rows a1 of A; default the largest divisor of `in` not above √in. */
  inFactor?: number;
  /** Columns a2 of A; default the largest divisor of `out` not above √out. */
  outFactor?: number;
  /** Scale s of the update; default 1. */
  scale?: number;
}

/**
 * A frozen linear plus a trainable Kronecker-product update (Edalati et al., "KronA: Parameter
 * Efficient Tuning with Kronecker Adapter", 2022, §3 "KronA"): y = x·W + s·x·(A ⊗ B) with
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
 * Only `merge` materialises A ⊗ B.
 */
export class KronaLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** A's shape [a1, a2]. */
  readonly aShape: readonly [number, number];
  /** B's shape [b1, b2]. */
  readonly bShape: readonly [number, number];
  readonly scale: number;
  enabled = true;
  private mergedFlag = false;

  constructor(base: KronaLinearLike, options: KronaLinearOptions = {}) {
    super();
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    const a1 = options.inFactor ?? squarestFactor(this.inFeatures);
    const a2 = options.outFactor ?? squarestFactor(this.outFeatures);
    checkFactor('inFactor', a1, this.inFeatures);
    checkFactor('outFactor', a2, this.outFeatures);
    this.aShape = [a1, a2];
    this.bShape = [this.inFeatures / a1, this.outFeatures / a2];
    this.scale = options.scale ?? 1;
    this.registerModule('base', base);
    this.train(base.training);
    const bound = 1 / Math.sqrt(a1);
    this.registerParameter('kronaA', new Parameter(tf.randomUniform([a1, a2], -bound, bound, 'float32', globalSeeds().nextSeed()), { kind: 'krona_A' }));
    this.registerParameter('kronaB', new Parameter(tf.zeros([...this.bShape]), { kind: 'krona_B' }));
  }

  get base(): KronaLinearLike {
    return this.child<KronaLinearLike>('base');
  }

  /** A [a1, a2]. */
  get kronaA(): Parameter {
    return this.parameter('kronaA');
  }

  /** B [b1, b2]. */
  get kronaB(): Parameter {
    return this.parameter('kronaB');
  }

  get merged(): boolean {
    return this.mergedFlag;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.mergedFlag) return this.base.forward(x);
    return tf.tidy(() => {
      const y = this.base.forward(x);
      const update = kroneckerProductRows(x.reshape([-1, this.inFeatures]) as tf.Tensor2D, this.kronaA.value as tf.Tensor2D, this.kronaB.value as tf.Tensor2D);
      return tf.add(y, tf.mul(update, this.scale).reshape(y.shape));
    });
  }

  /** s·(A ⊗ B) in the base weight's [in, out] layout, materialised. Caller owns it. */
  deltaWeight(): tf.Tensor2D {
    const [a1, a2] = this.aShape;
    const [b1, b2] = this.bShape;
    return tf.tidy(() => {
      // [a1, 1, a2, 1] · [1, b1, 1, b2] -> [a1, b1, a2, b2]: row i1·b1 + i2, column j1·b2 + j2.
      const product = tf.mul(this.kronaA.value.reshape([a1, 1, a2, 1]), this.kronaB.value.reshape([1, b1, 1, b2]));
      return tf.mul(product.reshape([this.inFeatures, this.outFeatures]), this.scale) as tf.Tensor2D;
    });
  }

  /** W ← W + s·(A ⊗ B) on the innermost Linear; checked finite before anything is written. */
  merge(): void {
    if (this.mergedFlag) return;
    this.addToBase(1, 'merge');
    this.mergedFlag = true;
  }

  /** W ← W − s·(A ⊗ B). */
  unmerge(): void {
    if (!this.mergedFlag) return;
    this.addToBase(-1, 'unmerge');
    this.mergedFlag = false;
  }

  /** The Linear whose weight merge writes: the base, through KronA and plain LoRA wrappers (their updates add). */
  mergeTarget(): Linear | undefined {
    const base = this.base;
    if (base instanceof Linear) return base;
    if (base instanceof KronaLinear) return base.mergeTarget();
    if (base instanceof LoraLinear && !base.useDora) {
      const inner = base.innermostBase();
      return inner instanceof Linear ? inner : undefined;
    }
    return undefined;
  }

  private addToBase(sign: 1 | -1, what: string): void {
    const target = this.mergeTarget();
    if (!target) {
      throw new PeftError('not-mergeable', `KronA cannot ${what}: the wrapped module is a ${this.base.constructor.name}, not a Linear (or a KronA/LoRA wrapper of one).`, {
        field: 'base',
        value: this.base.constructor.name,
        allowed: ['Linear', 'KronaLinear', 'LoraLinear'],
      });
    }
    const next = tf.tidy(() => {
      const delta = this.deltaWeight();
      return sign === 1 ? tf.add(target.weight.value, delta) : tf.sub(target.weight.value, delta);
    });
    const finite = tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0] === 1);
    if (!finite) {
      next.dispose();
      throw new PeftError('merge-not-finite', `KronA ${what} would write non-finite weights; nothing was changed.`, { field: 'kronaB', allowed: 'finite KronA factors' });
    }
    target.weight.assign(next);
    next.dispose();
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
