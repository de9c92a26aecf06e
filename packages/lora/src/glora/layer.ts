import { LinearAdapterWrapper, Parameter, PeftError, globalSeeds, tf, type AdapterParameters, type Linear, type WrapperAdapter } from '@peftjs/core';
import type { GloraConfig } from './config';

type Term = 'a' | 'b' | 'c' | 'd' | 'e';

/** One GLoRA adapter's options: the rank of the low-rank variants and the form of each term. */
export type GloraAdapterOptions = Pick<GloraConfig, 'r' | Term>;

/**
 * A frozen Linear with GLoRA's generalized update per named adapter (Chavan et al., "One-for-All:
 * Generalized LoRA for Parameter-Efficient Fine-tuning", 2023, Eq. 10), in our [in, out] weight layout:
 *
 *   W' = W0 + W0 ⊙ A + B,   b' = b0 + b0 ⊙ D + E + C·W0,   y = x·W' + b'
 *
 * A and B are [in, out] matrices given as a low-rank product (down [in, r] · up [r, out]), a
 * per-output-unit vector [out] broadcast over the inputs, or one scalar; C is an input-space
 * vector [in] (or a rank-r product [in, r]·[r, 1]) whose image C·W0 [out] shifts the bias, as the
 * authors' code adds W0·C to the bias; D and E are [out] vectors or scalars. As in the authors'
 * code, low-rank A and B start with a Kaiming-uniform input-side (down) factor and a zero up
 * factor, low-rank C with a zero down factor [in, r] and a Kaiming-uniform up factor [r, 1];
 * everything else starts at zero, so the layer equals the base at init.
 *
 * As a core LinearAdapterWrapper each adapter adds y' − y = x·(W0 ⊙ A + B) + b0 ⊙ D + E + C·W0 to
 * the base output, W0 and b0 being the wrapped Linear's current weight and bias. Everything folds
 * into W and b: merge is exact; it writes both (so it overrides `writeMerged`) and keeps the
 * update it wrote, which unmerge subtracts.
 *
 * Adapters live inside the layer by name; `config`, `adapterParameters`, `merge()`, ... read the
 * first adapter, or the one a `forAdapter(name)` view names.
 */
export class GloraLinear extends LinearAdapterWrapper<GloraAdapterOptions> {
  /** The update (ΔW, Δb) each merged adapter wrote into the base, subtracted by unmerge. */
  private readonly written = new Map<string, { weight: tf.Tensor; bias: tf.Tensor | undefined }>();

  /** Wraps `base`; with a config, adds the adapter `adapterName` at once. */
  constructor(base: Linear, config?: GloraAdapterOptions, adapterName = 'default', methodName = 'glora') {
    super(base);
    if (config) this.addAdapter(adapterName, methodName, { r: config.r, a: config.a, b: config.b, c: config.c, d: config.d, e: config.e });
  }

  override get base(): Linear {
    return super.base as unknown as Linear;
  }

  protected createParameters(_adapterName: string, config: GloraAdapterOptions): Record<string, Parameter> {
    const base = this.base;
    if (!base.bias && config.d !== 'none') {
      throw new PeftError('invalid-config', `glora: d scales the base bias, and ${base.role ?? 'this linear'} has none.`, { field: 'glora.d', value: config.d, allowed: ["'none' for bias-less linears"] });
    }
    const { r } = config;
    const [inSize, outSize] = [this.inFeatures, this.outFeatures];
    const parameters: Record<string, Parameter> = {};
    const matrixTerm = (term: 'a' | 'b', variant: GloraConfig['a']) => {
      if (variant === 'lora') {
        parameters[`${term}Down`] = new Parameter(kaimingUniform([inSize, r]), { kind: `glora_${term}` });
        parameters[`${term}Up`] = new Parameter(tf.zeros([r, outSize]), { kind: `glora_${term}` });
      } else if (variant === 'vector') parameters[term] = new Parameter(tf.zeros([outSize]), { kind: `glora_${term}` });
      else if (variant === 'scalar') parameters[term] = new Parameter(tf.zeros([1]), { kind: `glora_${term}` });
    };
    matrixTerm('a', config.a);
    matrixTerm('b', config.b);
    if (config.c === 'lora') {
      // The authors' code (GLoRA's glora.py: make_param((in, 1), 'LoRA_r'), then kaiming_uniform_ on
      // Cu only) starts Cd [in, r] at zero and Cu [r, 1] Kaiming-uniform with fan-in 1, i.e. U(−1, 1):
      // the reverse of the A/B terms, whose input-side factor is the random one.
      parameters.cDown = new Parameter(tf.zeros([inSize, r]), { kind: 'glora_c' });
      parameters.cUp = new Parameter(kaimingUniform([r, 1], 1), { kind: 'glora_c' });
    } else if (config.c === 'vector') parameters.c = new Parameter(tf.zeros([inSize]), { kind: 'glora_c' });
    for (const term of ['d', 'e'] as const) {
      const variant = config[term];
      if (variant === 'vector') parameters[term] = new Parameter(tf.zeros([outSize]), { kind: `glora_${term}` });
      else if (variant === 'scalar') parameters[term] = new Parameter(tf.zeros([1]), { kind: `glora_${term}` });
    }
    return parameters;
  }

  /** The first adapter's terms (or a forAdapter view's), by parameter name (`aDown`, `c`, `e`, ...). */
  get adapterParameters(): AdapterParameters {
    return this.primary.parameters;
  }

  /** The first adapter's term forms and rank. */
  get config(): GloraAdapterOptions {
    return this.primary.options;
  }

  /** The term as a tensor broadcastable to its target ([in, out] for a/b, [out] for d/e, [in] for c), or undefined when off. */
  private term(adapter: WrapperAdapter<GloraAdapterOptions>, term: Term): tf.Tensor | undefined {
    const parameters = adapter.parameters;
    const down = parameters.maybeParameter(`${term}Down`);
    if (down) {
      const product = tf.matMul(down.value as tf.Tensor2D, parameters.get(`${term}Up`).value as tf.Tensor2D);
      return term === 'c' ? product.reshape([this.inFeatures]) : product;
    }
    return parameters.maybeParameter(term)?.value;
  }

  /**
   * The adapter's update of W and b: ΔW = W0 ⊙ A + B ([in, out], undefined with A and B off) and
   * Δb = b0 ⊙ D + E + C·W0 ([out], undefined with C, D and E off), W0 and b0 the base's current values.
   * Call it inside tf.tidy: the intermediates are not disposed here.
   */
  deltas(adapter: WrapperAdapter<GloraAdapterOptions> = this.primary): { weight: tf.Tensor2D | undefined; bias: tf.Tensor1D | undefined } {
    const weight0 = this.base.weight.value as tf.Tensor2D;
    const bias0 = this.base.bias?.value as tf.Tensor1D | undefined;
    const [a, b, c, d, e] = (['a', 'b', 'c', 'd', 'e'] as const).map((term) => this.term(adapter, term));
    const weightParts = [...(a ? [tf.mul(weight0, a)] : []), ...(b ? [tf.broadcastTo(b, [this.inFeatures, this.outFeatures])] : [])];
    const biasParts = [
      ...(bias0 && d ? [tf.mul(bias0, d)] : []),
      ...(e ? [tf.broadcastTo(e, [this.outFeatures])] : []),
      ...(c ? [tf.matMul(c.reshape([1, this.inFeatures]), weight0).reshape([this.outFeatures])] : []),
    ];
    const sum = (parts: tf.Tensor[]) => (parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : tf.addN(parts));
    return { weight: sum(weightParts) as tf.Tensor2D | undefined, bias: sum(biasParts) as tf.Tensor1D | undefined };
  }

  /** x·ΔW + Δb (Eq. 10 minus the base output). */
  protected contribution(adapter: WrapperAdapter<GloraAdapterOptions>, y: tf.Tensor, x: tf.Tensor): tf.Tensor {
    const { weight, bias } = this.deltas(adapter);
    const rows = y.reshape([-1, this.outFeatures]);
    let update: tf.Tensor = weight ? tf.matMul(x.reshape([-1, this.inFeatures]) as tf.Tensor2D, weight) : tf.zerosLike(rows);
    if (bias) update = tf.add(update, bias);
    return update.reshape(y.shape);
  }

  override get supportsMerge(): boolean {
    return true;
  }

  /** Mergeable without a gate, and where the C/E bias shift has a base bias to go into. */
  override canMerge(adapterName: string): boolean {
    const adapter = this.adapter(adapterName);
    return adapter.gate === undefined && (this.base.bias !== undefined || (adapter.options.c === 'none' && adapter.options.e === 'none'));
  }

  /** Merge: W ← W + ΔW, b ← b + Δb, checked finite first; unmerge subtracts the update merge wrote. */
  protected override writeMerged(adapter: WrapperAdapter<GloraAdapterOptions>, sign: 1 | -1): void {
    const base = this.base;
    if (sign === -1) {
      const written = this.written.get(adapter.name)!;
      tf.tidy(() => {
        base.weight.assign(tf.sub(base.weight.value, written.weight));
        if (written.bias) base.bias!.assign(tf.sub(base.bias!.value, written.bias));
      });
      tf.dispose([written.weight, written.bias ?? []]);
      this.written.delete(adapter.name);
      return;
    }
    if (adapter.gate) {
      throw new PeftError('not-mergeable', `glora cannot merge adapter "${adapter.name}": a gate scales its contribution by a function of the input.`, { field: 'gate', value: adapter.methodName, allowed: 'ungated adapters' });
    }
    const update = tf.tidy(() => {
      const { weight, bias } = this.deltas(adapter);
      return { weight: weight ? tf.clone(weight) : tf.zerosLike(base.weight.value), bias: bias ? tf.clone(bias) : undefined };
    });
    if (update.bias && !base.bias) {
      tf.dispose([update.weight, update.bias]);
      throw new PeftError('not-mergeable', 'glora: the c/e terms shift the bias and the base linear has none to fold them into.', { field: 'glora.e', allowed: ["'none' for c and e on bias-less linears"] });
    }
    const next = tf.tidy(() => ({ weight: tf.add(base.weight.value, update.weight), bias: update.bias ? tf.add(base.bias!.value, update.bias) : undefined }));
    const finite = tf.tidy(() => tf.all(tf.isFinite(next.weight)).dataSync()[0] === 1 && (!next.bias || tf.all(tf.isFinite(next.bias)).dataSync()[0] === 1));
    if (!finite) {
      tf.dispose([update.weight, update.bias ?? [], next.weight, next.bias ?? []]);
      throw new PeftError('merge-not-finite', 'glora: merging would write non-finite weights; nothing was changed.', { field: 'merge' });
    }
    base.weight.assign(next.weight);
    if (next.bias) base.bias!.assign(next.bias);
    tf.dispose([next.weight, next.bias ?? []]);
    this.written.set(adapter.name, update);
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
