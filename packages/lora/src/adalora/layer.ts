import { Dropout, Linear, Module, Parameter, PeftError, globalSeeds, tf } from '@peftjs/core';
import type { LinearLike } from '../lora/layer';

/** Exponential moving averages of a factor's importance (AdaLoRA Eq. 8–9). */
interface ImportanceAverages {
  sensitivity: tf.Tensor;
  uncertainty: tf.Tensor;
}

/**
 * A frozen linear plus AdaLoRA's SVD-form update (Zhang et al., "Adaptive Budget Allocation for
 * Parameter-Efficient Fine-Tuning", 2023, §3.1, Eq. 3): ΔW = P·Λ·Q, here in our [in, out] layout
 * as A [in, r] (HF's lora_A = Q, transposed), the singular values E [r] (lora_E = Λ) and
 * B [r, out] (lora_B = P, transposed): y = x·W + s·((x·A) ⊙ E)·B with s = alpha / (r + 1e-5) as HF
 * computes it. E starts at zero (A and B Gaussian, std 0.02), so the layer equals its base at init;
 * pruning zeroes entries of E.
 */
export class AdaLoraLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly r: number;
  readonly alpha: number;
  readonly scaling: number;
  enabled = true;
  private mergedFlag = false;
  /** Which triplets are alive: pruned ones have their singular value held at zero. */
  private keep: boolean[];
  /** Importance averages per factor, created at the first update. */
  private averages: Partial<Record<'A' | 'E' | 'B', ImportanceAverages>> = {};

  constructor(base: LinearLike, options: { r: number; alpha: number; dropout?: number }) {
    super();
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.r = options.r;
    this.alpha = options.alpha;
    this.scaling = options.alpha / (options.r + 1e-5);
    this.registerModule('base', base);
    this.registerModule('dropout', new Dropout(options.dropout ?? 0));
    this.train(base.training);
    this.keep = new Array<boolean>(this.r).fill(true);
    const seeds = globalSeeds();
    this.registerParameter('loraA', new Parameter(tf.randomNormal([this.inFeatures, this.r], 0, 0.02, 'float32', seeds.nextSeed()), { kind: 'lora_A' }));
    this.registerParameter('loraE', new Parameter(tf.zeros([this.r]), { kind: 'lora_E' }));
    this.registerParameter('loraB', new Parameter(tf.randomNormal([this.r, this.outFeatures], 0, 0.02, 'float32', seeds.nextSeed()), { kind: 'lora_B' }));
  }

  get base(): LinearLike {
    return this.child<LinearLike>('base');
  }

  get loraA(): Parameter {
    return this.parameter('loraA');
  }

  get loraE(): Parameter {
    return this.parameter('loraE');
  }

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
      const input = this.child<Dropout>('dropout').forward(x).reshape([-1, this.inFeatures]) as tf.Tensor2D;
      const down = tf.mul(tf.matMul(input, this.loraA.value as tf.Tensor2D), tf.mul(this.loraE.value, this.scaling));
      return tf.add(y, tf.matMul(down as tf.Tensor2D, this.loraB.value as tf.Tensor2D).reshape(y.shape));
    });
  }

  /** s·A·diag(E)·B [in, out]. Caller owns it. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.mul(this.loraA.value, tf.mul(this.loraE.value, this.scaling)) as tf.Tensor2D, this.loraB.value as tf.Tensor2D));
  }

  /**
   * Updates the smoothed importance of A, E and B from this step's gradients (Eq. 7–9, HF's
   * update_ipt): I = |w ⊙ ∇w|, Ī ← β1·Ī + (1 − β1)·I, Ū ← β2·Ū + (1 − β2)·|I − Ī|.
   */
  updateImportance(gradients: ReadonlyMap<Parameter, tf.Tensor>, beta1: number, beta2: number): void {
    for (const [name, parameter] of [['A', this.loraA], ['E', this.loraE], ['B', this.loraB]] as const) {
      const gradient = gradients.get(parameter);
      if (!gradient) continue;
      const previous = this.averages[name];
      const next = tf.tidy(() => {
        const importance = tf.abs(tf.mul(parameter.value, gradient));
        const sensitivity = previous ? tf.add(tf.mul(previous.sensitivity, beta1), tf.mul(importance, 1 - beta1)) : tf.mul(importance, 1 - beta1);
        const uncertaintyPrevious = previous?.uncertainty ?? tf.zerosLike(importance);
        const uncertainty = tf.add(tf.mul(uncertaintyPrevious, beta2), tf.mul(tf.abs(tf.sub(importance, sensitivity)), 1 - beta2));
        // Kept: the trainer calls transformGradients inside a tidy, and these outlive the step.
        return { sensitivity: tf.keep(sensitivity), uncertainty: tf.keep(uncertainty) };
      });
      if (previous) tf.dispose([previous.sensitivity, previous.uncertainty]);
      this.averages[name] = next;
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
    return this.keep;
  }

  /** Sets the rank mask and zeroes E's entries where it is false. */
  maskRanks(keep: readonly boolean[]): void {
    if (keep.length !== this.r) {
      throw new PeftError('invalid-argument', `adalora: a rank mask needs ${this.r} entries; got ${keep.length}.`, { field: 'rankMask', value: keep.length, allowed: `${this.r} flags` });
    }
    this.keep = [...keep];
    this.reapplyMask();
  }

  /**
   * Zeroes the pruned singular values again after an optimizer step, so that they stay zero until a
   * later pruning step keeps their triplet (its P and Q still learn, so it can come back: §3.2).
   */
  reapplyMask(): void {
    if (this.keep.every(Boolean)) return;
    tf.tidy(() => this.loraE.assign(tf.mul(this.loraE.value, tf.tensor1d(this.keep.map((k) => (k ? 1 : 0))))));
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
    for (const name of ['A', 'E', 'B'] as const) {
      const sensitivity = state[`${prefix}.importance.${name}.sensitivity`];
      const uncertainty = state[`${prefix}.importance.${name}.uncertainty`];
      const previous = this.averages[name];
      if (previous) tf.dispose([previous.sensitivity, previous.uncertainty]);
      if (sensitivity && uncertainty) this.averages[name] = { sensitivity: tf.clone(sensitivity), uncertainty: tf.clone(uncertainty) };
      else delete this.averages[name];
    }
  }

  /** W ← W + s·A·diag(E)·B on the base Linear. */
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

  override dispose(): void {
    for (const averages of Object.values(this.averages)) tf.dispose([averages.sensitivity, averages.uncertainty]);
    this.averages = {};
    super.dispose();
  }

  private addToBase(sign: 1 | -1): void {
    const base = this.base;
    if (!(base instanceof Linear)) {
      throw new PeftError('not-mergeable', `adalora cannot merge into a ${base.constructor.name}; it needs a plain Linear.`, { field: 'base', value: base.constructor.name, allowed: ['Linear'] });
    }
    const next = tf.tidy(() => (sign === 1 ? tf.add(base.weight.value, this.deltaWeight()) : tf.sub(base.weight.value, this.deltaWeight())));
    if (!tf.tidy(() => tf.all(tf.isFinite(next)).dataSync()[0] === 1)) {
      next.dispose();
      throw new PeftError('merge-not-finite', 'adalora: merging would write non-finite weights; nothing was changed.', { field: 'loraE' });
    }
    base.weight.assign(next);
    next.dispose();
  }
}
