import { Module, Parameter, PeftError, globalSeeds, tf, type Linear } from '@peftjs/core';
import type { GloraConfig } from './config';

type Term = 'a' | 'b' | 'c' | 'd' | 'e';

/**
 * A frozen Linear with GLoRA's generalized update (Chavan et al., "One-for-All: Generalized LoRA
 * for Parameter-Efficient Fine-tuning", 2023, Eq. 10), in our [in, out] weight layout:
 *
 *   W' = W0 + W0 ⊙ A + B,   b' = b0 + b0 ⊙ D + E + C·W0,   y = x·W' + b'
 *
 * A and B are [in, out] matrices given as a low-rank product (down [in, r] · up [r, out]), a
 * per-output-unit vector [out] broadcast over the inputs, or one scalar; C is an input-space
 * vector [in] (or a rank-r product [in, r]·[r, 1]) whose image C·W0 [out] shifts the bias, as the
 * authors' code adds W0·C to the bias; D and E are [out] vectors or scalars. As in the authors'
 * code, low-rank A and B start with a Kaiming-uniform input-side (down) factor and a zero up
 * factor, low-rank C with a zero down factor [in, r] and a Kaiming-uniform up factor [r, 1];
 * everything else starts at zero, so the layer equals the base at init. Everything folds into W and b: merge is exact.
 */
export class GloraLinear extends Module<[tf.Tensor], tf.Tensor> {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly config: Pick<GloraConfig, 'r' | Term>;
  enabled = true;
  private mergedFlag = false;
  private original: { weight: tf.Tensor; bias?: tf.Tensor } | undefined;

  constructor(base: Linear, config: Pick<GloraConfig, 'r' | Term>) {
    super();
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.config = { r: config.r, a: config.a, b: config.b, c: config.c, d: config.d, e: config.e };
    this.registerModule('base', base);
    const { r } = config;
    const [inSize, outSize] = [base.inFeatures, base.outFeatures];
    const matrixTerm = (term: 'a' | 'b', variant: GloraConfig['a']) => {
      if (variant === 'lora') {
        this.registerParameter(`${term}Down`, new Parameter(kaimingUniform([inSize, r]), { kind: `glora_${term}` }));
        this.registerParameter(`${term}Up`, new Parameter(tf.zeros([r, outSize]), { kind: `glora_${term}` }));
      } else if (variant === 'vector') this.registerParameter(term, new Parameter(tf.zeros([outSize]), { kind: `glora_${term}` }));
      else if (variant === 'scalar') this.registerParameter(term, new Parameter(tf.zeros([1]), { kind: `glora_${term}` }));
    };
    matrixTerm('a', config.a);
    matrixTerm('b', config.b);
    if (config.c === 'lora') {
      // The authors' code (GLoRA's glora.py: make_param((in, 1), 'LoRA_r'), then kaiming_uniform_ on
      // Cu only) starts Cd [in, r] at zero and Cu [r, 1] Kaiming-uniform with fan-in 1, i.e. U(−1, 1):
      // the reverse of the A/B terms, whose input-side factor is the random one.
      this.registerParameter('cDown', new Parameter(tf.zeros([inSize, r]), { kind: 'glora_c' }));
      this.registerParameter('cUp', new Parameter(kaimingUniform([r, 1], 1), { kind: 'glora_c' }));
    } else if (config.c === 'vector') this.registerParameter('c', new Parameter(tf.zeros([inSize]), { kind: 'glora_c' }));
    for (const term of ['d', 'e'] as const) {
      const variant = config[term];
      if (variant === 'vector') this.registerParameter(term, new Parameter(tf.zeros([outSize]), { kind: `glora_${term}` }));
      else if (variant === 'scalar') this.registerParameter(term, new Parameter(tf.zeros([1]), { kind: `glora_${term}` }));
    }
    if (!base.bias && config.d !== 'none') {
      throw new PeftError('invalid-config', `glora: d scales the base bias, and ${base.role ?? 'this linear'} has none.`, { field: 'glora.d', value: config.d, allowed: ["'none' for bias-less linears"] });
    }
  }

  get base(): Linear {
    return this.child<Linear>('base');
  }

  get merged(): boolean {
    return this.mergedFlag;
  }

  /** The term as a tensor broadcastable to its target ([in, out] for a/b, [out] for d/e, [in] for c), or undefined when off. */
  private term(term: Term): tf.Tensor | undefined {
    const down = this.maybeParameter(`${term}Down`);
    if (down) {
      const product = tf.matMul(down.value as tf.Tensor2D, this.parameter(`${term}Up`).value as tf.Tensor2D);
      return term === 'c' ? product.reshape([this.inFeatures]) : product;
    }
    return this.maybeParameter(term)?.value;
  }

  /** W' and b' (b' undefined when the base has no bias and no bias term is on). */
  effective(): { weight: tf.Tensor2D; bias: tf.Tensor1D | undefined } {
    const base = this.base;
    const weight0 = base.weight.value as tf.Tensor2D;
    const bias0 = base.bias?.value as tf.Tensor1D | undefined;
    const [a, b, c, d, e] = (['a', 'b', 'c', 'd', 'e'] as const).map((term) => this.term(term));
    let weight: tf.Tensor = weight0;
    if (a) weight = tf.add(weight, tf.mul(weight0, a));
    if (b) weight = tf.add(weight, b);
    let bias: tf.Tensor | undefined = bias0;
    if (bias0 && d) bias = tf.add(bias!, tf.mul(bias0, d));
    const shifts = [...(e ? [tf.broadcastTo(e, [this.outFeatures])] : []), ...(c ? [tf.matMul(c.reshape([1, this.inFeatures]), weight0).reshape([this.outFeatures])] : [])];
    for (const shift of shifts) bias = bias ? tf.add(bias, shift) : shift;
    return { weight: weight as tf.Tensor2D, bias: bias as tf.Tensor1D | undefined };
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.mergedFlag) return this.base.forward(x);
    return tf.tidy(() => {
      const { weight, bias } = this.effective();
      const lead = x.shape.slice(0, -1);
      let y: tf.Tensor = tf.matMul(x.reshape([-1, this.inFeatures]) as tf.Tensor2D, weight);
      if (bias) y = tf.add(y, bias);
      return y.reshape([...lead, this.outFeatures]);
    });
  }

  /** Writes W' and b' into the base (keeping the originals to unmerge exactly). */
  merge(): void {
    if (this.mergedFlag) return;
    const base = this.base;
    // Clones: with A and B off, W' is the base variable's own tensor, which must not be assigned to itself or disposed.
    const next = tf.tidy(() => {
      const { weight, bias } = this.effective();
      return { weight: tf.clone(weight), bias: bias ? tf.clone(bias) : undefined };
    });
    if (next.bias && !base.bias) {
      tf.dispose([next.weight, next.bias]);
      throw new PeftError('not-mergeable', 'glora: the c/e terms shift the bias and the base linear has none to fold them into.', { field: 'glora.e', allowed: ["'none' for c and e on bias-less linears"] });
    }
    const finite = tf.tidy(() => tf.all(tf.isFinite(next.weight)).dataSync()[0] === 1 && (!next.bias || tf.all(tf.isFinite(next.bias)).dataSync()[0] === 1));
    if (!finite) {
      tf.dispose([next.weight, next.bias ?? []]);
      throw new PeftError('merge-not-finite', 'glora: merging would write non-finite weights; nothing was changed.', { field: 'merge' });
    }
    this.original = { weight: tf.clone(base.weight.value), ...(base.bias ? { bias: tf.clone(base.bias.value) } : {}) };
    base.weight.assign(next.weight);
    if (next.bias) base.bias!.assign(next.bias);
    tf.dispose([next.weight, next.bias ?? []]);
    this.mergedFlag = true;
  }

  unmerge(): void {
    if (!this.mergedFlag || !this.original) return;
    this.base.weight.assign(this.original.weight);
    if (this.original.bias) this.base.bias!.assign(this.original.bias);
    tf.dispose([this.original.weight, this.original.bias ?? []]);
    this.original = undefined;
    this.mergedFlag = false;
  }
}

/**
 * PyTorch's kaiming_uniform_(a=√5): U(−1/√fanIn, 1/√fanIn). fanIn defaults to the rows of our
 * [in, r] factors (the columns of the authors' [r, in] ones).
 */
function kaimingUniform(shape: [number, number], fanIn = shape[0]): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32', globalSeeds().nextSeed());
}
