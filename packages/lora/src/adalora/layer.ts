import { Dropout, LinearAdapterWrapper, Parameter, PeftError, globalSeeds, tf, type Module, type WrapperAdapter } from '@peftjs/core';

/** Exponential moving averages of a factor's importance (AdaLoRA Eq. 8–9). */
interface ImportanceAverages {
  sensitivity: tf.Tensor;
  uncertainty: tf.Tensor;
}

/** One AdaLoRA adapter's options: its initial rank, alpha, dropout and the scale HF derives from them. */
export interface AdaLoraOptions {
  r: number;
  alpha: number;
  dropout: number;
  scaling: number;
}

/**
 * A frozen linear plus AdaLoRA's SVD-form update per named adapter (Zhang et al., "Adaptive Budget
 * Allocation for Parameter-Efficient Fine-Tuning", 2023, §3.1, Eq. 3): ΔW = P·Λ·Q, here in our
 * [in, out] layout as A [in, r] (HF's lora_A = Q, transposed), the singular values E [r] (lora_E = Λ)
 * and B [r, out] (lora_B = P, transposed): y = x·W + s·((x·A) ⊙ E)·B with s = alpha / (r + 1e-5) as
 * HF computes it. E starts at zero (A and B Gaussian, std 0.02), so the layer equals its base at
 * init; pruning zeroes entries of E.
 *
 * Adapters live inside the layer by name (core's LinearAdapterWrapper), each with its own rank mask
 * and importance averages; the members without an adapter name (`loraA`, `rankMask`, `maskRanks`,
 * `updateImportance`, `merge()`, ...) act on the first adapter, or the one a `forAdapter(name)` view names.
 */
export class AdaLoraLinear extends LinearAdapterWrapper<AdaLoraOptions> {
  private readonly dropouts = new Map<string, Dropout>();
  /** Which triplets of each adapter are alive: pruned ones have their singular value held at zero. */
  private readonly keeps = new Map<string, boolean[]>();
  /** Importance averages per adapter and factor, created at the first update. */
  private readonly averagesOf = new Map<string, Partial<Record<'A' | 'E' | 'B', ImportanceAverages>>>();

  /** Wraps `base`; with options, adds the adapter `adapterName` at once. */
  constructor(base: Module<[tf.Tensor], tf.Tensor>, options?: { r: number; alpha: number; dropout?: number }, adapterName = 'default', methodName = 'adalora') {
    super(base);
    if (options) this.addAdapter(adapterName, methodName, adaLoraOptions(options));
  }

  protected createParameters(adapterName: string, options: AdaLoraOptions): Record<string, Parameter> {
    if (!Number.isInteger(options.r) || options.r < 1) throw new PeftError('invalid-argument', `AdaLoraLinear: r must be a positive integer; got ${options.r}.`, { field: 'r', value: options.r, allowed: 'an integer >= 1' });
    this.dropouts.set(adapterName, new Dropout(options.dropout));
    this.keeps.set(adapterName, new Array<boolean>(options.r).fill(true));
    this.averagesOf.set(adapterName, {});
    const seeds = globalSeeds();
    return {
      loraA: new Parameter(tf.randomNormal([this.inFeatures, options.r], 0, 0.02, 'float32', seeds.nextSeed()), { kind: 'lora_A' }),
      loraE: new Parameter(tf.zeros([options.r]), { kind: 'lora_E' }),
      loraB: new Parameter(tf.randomNormal([options.r, this.outFeatures], 0, 0.02, 'float32', seeds.nextSeed()), { kind: 'lora_B' }),
    };
  }

  override deleteAdapter(name: string): void {
    super.deleteAdapter(name);
    this.disposeAverages(name);
    this.averagesOf.delete(name);
    this.keeps.delete(name);
    this.dropouts.delete(name);
  }

  /** s·((x·A) ⊙ E)·B. */
  protected contribution(adapter: WrapperAdapter<AdaLoraOptions>, y: tf.Tensor, x: tf.Tensor): tf.Tensor {
    const dropout = this.dropouts.get(adapter.name)!;
    dropout.training = this.training;
    const input = dropout.forward(x).reshape([-1, this.inFeatures]) as tf.Tensor2D;
    const parameters = adapter.parameters;
    const down = tf.mul(tf.matMul(input, parameters.get('loraA').value as tf.Tensor2D), tf.mul(parameters.get('loraE').value, adapter.options.scaling));
    return tf.matMul(down as tf.Tensor2D, parameters.get('loraB').value as tf.Tensor2D).reshape(y.shape);
  }

  /** s·A·diag(E)·B [in, out] of an adapter (the first by default). Caller owns it. */
  override deltaWeight(adapter: WrapperAdapter<AdaLoraOptions> = this.primary): tf.Tensor2D {
    const parameters = adapter.parameters;
    return tf.tidy(() => tf.matMul(tf.mul(parameters.get('loraA').value, tf.mul(parameters.get('loraE').value, adapter.options.scaling)) as tf.Tensor2D, parameters.get('loraB').value as tf.Tensor2D));
  }

  get loraA(): Parameter {
    return this.primary.parameters.get('loraA');
  }

  get loraE(): Parameter {
    return this.primary.parameters.get('loraE');
  }

  get loraB(): Parameter {
    return this.primary.parameters.get('loraB');
  }

  /** The initial rank of the first adapter (or a view's). */
  get r(): number {
    return this.primary.options.r;
  }

  get alpha(): number {
    return this.primary.options.alpha;
  }

  /** alpha / (r + 1e-5), as HF computes it. */
  get scaling(): number {
    return this.primary.options.scaling;
  }

  private get averages(): Partial<Record<'A' | 'E' | 'B', ImportanceAverages>> {
    return this.averagesOf.get(this.primary.name)!;
  }

  /**
   * Updates the smoothed importance of A, E and B from this step's gradients (Eq. 7–9, HF's
   * update_ipt): I = |w ⊙ ∇w|, Ī ← β1·Ī + (1 − β1)·I, Ū ← β2·Ū + (1 − β2)·|I − Ī|.
   */
  updateImportance(gradients: ReadonlyMap<Parameter, tf.Tensor>, beta1: number, beta2: number): void {
    const averages = this.averages;
    for (const [name, parameter] of [['A', this.loraA], ['E', this.loraE], ['B', this.loraB]] as const) {
      const gradient = gradients.get(parameter);
      if (!gradient) continue;
      const previous = averages[name];
      const next = tf.tidy(() => {
        const importance = tf.abs(tf.mul(parameter.value, gradient));
        const sensitivity = previous ? tf.add(tf.mul(previous.sensitivity, beta1), tf.mul(importance, 1 - beta1)) : tf.mul(importance, 1 - beta1);
        const uncertaintyPrevious = previous?.uncertainty ?? tf.zerosLike(importance);
        const uncertainty = tf.add(tf.mul(uncertaintyPrevious, beta2), tf.mul(tf.abs(tf.sub(importance, sensitivity)), 1 - beta2));
        // Kept: the trainer calls transformGradients inside a tidy, and these outlive the step.
        return { sensitivity: tf.keep(sensitivity), uncertainty: tf.keep(uncertainty) };
      });
      if (previous) tf.dispose([previous.sensitivity, previous.uncertainty]);
      averages[name] = next;
    }
  }

  /**
   * The score of each triplet i (Eq. 10–11): s(λ_i) + mean_j s(A[j, i]) + mean_j s(B[i, j]), with
   * s = Ī·Ū per entry. Zeros before any importance update.
   */
  tripletScores(): Float32Array {
    const { A, E, B } = this.averages;
    if (!A || !E || !B) return new Float32Array(this.r);
    return tf.tidy(() => {
      const score = (averages: ImportanceAverages) => tf.mul(averages.sensitivity, averages.uncertainty);
      return tf.addN([score(E), tf.mean(score(A), 0), tf.mean(score(B), 1)]).dataSync() as Float32Array;
    });
  }

  /** The rank mask: true for the triplets kept by the last pruning. */
  get rankMask(): readonly boolean[] {
    return this.keeps.get(this.primary.name)!;
  }

  /** Sets the rank mask and zeroes E's entries where it is false. */
  maskRanks(keep: readonly boolean[]): void {
    if (keep.length !== this.r) {
      throw new PeftError('invalid-argument', `adalora: a rank mask needs ${this.r} entries; got ${keep.length}.`, { field: 'rankMask', value: keep.length, allowed: `${this.r} flags` });
    }
    this.keeps.set(this.primary.name, [...keep]);
    this.reapplyMask();
  }

  /**
   * Zeroes the pruned singular values again after an optimizer step, so that they stay zero until a
   * later pruning step keeps their triplet (its P and Q still learn, so it can come back: §3.2).
   */
  reapplyMask(): void {
    const keep = this.rankMask;
    if (keep.every(Boolean)) return;
    const loraE = this.loraE;
    tf.tidy(() => loraE.assign(tf.mul(loraE.value, tf.tensor1d(keep.map((k) => (k ? 1 : 0))))));
  }

  /** The importance averages, keyed for a checkpoint (empty before the first update). */
  importanceState(prefix: string): Record<string, tf.Tensor> {
    return Object.fromEntries(
      Object.entries(this.averages).flatMap(([name, averages]) => [
        [`${prefix}.importance.${name}.sensitivity`, averages.sensitivity],
        [`${prefix}.importance.${name}.uncertainty`, averages.uncertainty],
      ]),
    );
  }

  loadImportance(prefix: string, state: Record<string, tf.Tensor>): void {
    const averages = this.averages;
    for (const name of ['A', 'E', 'B'] as const) {
      const sensitivity = state[`${prefix}.importance.${name}.sensitivity`];
      const uncertainty = state[`${prefix}.importance.${name}.uncertainty`];
      const previous = averages[name];
      if (previous) tf.dispose([previous.sensitivity, previous.uncertainty]);
      if (sensitivity && uncertainty) averages[name] = { sensitivity: tf.clone(sensitivity), uncertainty: tf.clone(uncertainty) };
      else delete averages[name];
    }
  }

  override dispose(): void {
    for (const name of this.averagesOf.keys()) this.disposeAverages(name);
    super.dispose();
  }

  private disposeAverages(adapterName: string): void {
    const averages = this.averagesOf.get(adapterName);
    if (!averages) return;
    for (const entry of Object.values(averages)) tf.dispose([entry.sensitivity, entry.uncertainty]);
    this.averagesOf.set(adapterName, {});
  }
}

/** Options with defaults and HF's scale alpha / (r + 1e-5). */
export function adaLoraOptions(options: { r: number; alpha: number; dropout?: number }): AdaLoraOptions {
  return { r: options.r, alpha: options.alpha, dropout: options.dropout ?? 0, scaling: options.alpha / (options.r + 1e-5) };
}
