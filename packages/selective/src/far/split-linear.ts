import { Module, Parameter, PeftError, tf, type Linear } from '@peftjs/core';

/**
 * A Linear reconfigured into a frozen part and a trainable part (Vucetic et al., "Efficient
 * Fine-Tuning of BERT Models on the Edge", §III): the chosen output units (rows of the paper's
 * [out, in] matrices, columns of our [in, out] weights) are copied into a small trainable
 * W_t [in, k] and b_t [k]; the others are computed from the frozen base weight. The outputs of
 * both parts are put back in the original order, so the layer equals the base at init.
 *
 * One custom-gradient op computes it: backward sends dy of the frozen units through the frozen
 * weight and dy of the trained units through W_t, and keeps only x for W_t's gradient (no
 * gradient, and no gradient buffer, for the frozen weight).
 */
export class SplitLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  enabled = true;
  merged = false;
  /** Output units that train, ascending. */
  private trainedUnits: Int32Array;
  private unitsTensor: tf.Tensor1D;
  /** 1 for frozen units, 0 for trained ones: masks dy before the frozen weight's backward. */
  private frozenMask: tf.Tensor1D;
  /** The base columns the merge overwrote, to unmerge. */
  private mergedOriginal: { weight: tf.Tensor; bias?: tf.Tensor } | undefined;

  constructor(base: Linear, units: readonly number[]) {
    super();
    this.role = base.role;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.registerModule('base', base);
    this.trainedUnits = checkUnits(units, base.outFeatures);
    this.unitsTensor = tf.tensor1d(this.trainedUnits, 'int32');
    this.frozenMask = maskOf(this.trainedUnits, base.outFeatures);
    this.registerParameter('trainedWeight', new Parameter(tf.tidy(() => tf.gather(base.weight.value, this.unitsTensor, 1)), { kind: 'weight' }));
    if (base.bias) this.registerParameter('trainedBias', new Parameter(tf.tidy(() => tf.gather(base.bias!.value, this.unitsTensor)), { kind: 'bias' }));
  }

  get base(): Linear {
    return this.child<Linear>('base');
  }

  get trainedWeight(): Parameter {
    return this.parameter('trainedWeight');
  }

  get trainedBias(): Parameter | undefined {
    return this.maybeParameter('trainedBias');
  }

  /** The output units that train (a copy). */
  get units(): number[] {
    return Array.from(this.trainedUnits);
  }

  /** The output units that train as an int32 tensor, owned by this layer (what `state()` saves). */
  get unitsIndex(): tf.Tensor1D {
    return this.unitsTensor;
  }

  /** Chooses other units: the trained slice is re-copied from the base weight. */
  selectUnits(units: readonly number[]): void {
    if (units.length !== this.trainedUnits.length) {
      throw new PeftError('invalid-argument', `far: a split linear trains ${this.trainedUnits.length} units; got ${units.length}.`, { field: 'units', value: units.length, allowed: `${this.trainedUnits.length} units` });
    }
    const next = checkUnits(units, this.outFeatures);
    tf.dispose([this.unitsTensor, this.frozenMask]);
    this.trainedUnits = next;
    this.unitsTensor = tf.tensor1d(next, 'int32');
    this.frozenMask = maskOf(next, this.outFeatures);
    tf.tidy(() => {
      this.trainedWeight.assign(tf.gather(this.base.weight.value, this.unitsTensor, 1));
      this.trainedBias?.assign(tf.gather(this.base.bias!.value, this.unitsTensor));
    });
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.enabled || this.merged) return this.base.forward(x);
    const lead = x.shape.slice(0, -1);
    return tf.tidy(() => {
      const flat = x.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      return this.splitOp(flat).reshape([...lead, this.outFeatures]);
    });
  }

  private splitOp(flat: tf.Tensor2D): tf.Tensor2D {
    const weight = this.base.weight.value as tf.Tensor2D;
    const bias = this.base.bias?.value;
    const units = this.unitsTensor;
    const mask = this.frozenMask;
    const hasBias = this.trainedBias !== undefined;
    const inputs = [flat, this.trainedWeight.value, ...(hasBias ? [this.trainedBias!.value] : [])];
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, trainedWeight, trainedBias] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D | undefined];
      const save = args[args.length - 1] as tf.GradSaveFunc;
      save([x]);
      let frozen: tf.Tensor2D = tf.matMul(x, weight);
      if (bias) frozen = tf.add(frozen, bias);
      let trained: tf.Tensor2D = tf.matMul(x, trainedWeight);
      if (trainedBias) trained = tf.add(trained, trainedBias);
      // Scatter the trained units' outputs over the frozen ones: [N, k] → [N, out] by the transposed gather.
      const scattered = tf.transpose(tf.scatterND(tf.expandDims(units, 1), tf.transpose(trained), [this.outFeatures, x.shape[0]])) as tf.Tensor2D;
      const value = tf.add(tf.mul(frozen, mask), scattered) as tf.Tensor2D;
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [input] = saved as [tf.Tensor2D];
          const dyTrained = tf.gather(dy, units, 1) as tf.Tensor2D;
          const dx = tf.add(tf.matMul(tf.mul(dy, mask), weight, false, true), tf.matMul(dyTrained, trainedWeight, false, true));
          const dWeight = tf.matMul(input, dyTrained, true, false);
          return hasBias ? [dx, dWeight, tf.sum(dyTrained, 0)] : [dx, dWeight];
        },
      };
    });
    return (op as (...tensors: tf.Tensor[]) => tf.Tensor2D)(...inputs);
  }

  /** Writes the trained slice into the base weight: the reconfigured-back layer, no inference overhead. */
  merge(): void {
    if (this.merged) return;
    const base = this.base;
    this.mergedOriginal = tf.tidy(() => ({ weight: tf.gather(base.weight.value, this.unitsTensor, 1), ...(base.bias ? { bias: tf.gather(base.bias.value, this.unitsTensor) } : {}) }));
    tf.tidy(() => {
      base.weight.assign(scatterColumns(base.weight.value as tf.Tensor2D, this.trainedWeight.value as tf.Tensor2D, this.unitsTensor));
      if (base.bias) base.bias.assign(scatterEntries(base.bias.value as tf.Tensor1D, this.trainedBias!.value as tf.Tensor1D, this.unitsTensor));
    });
    this.merged = true;
  }

  /** Puts the base columns back. */
  unmerge(): void {
    if (!this.merged || !this.mergedOriginal) return;
    const base = this.base;
    const original = this.mergedOriginal;
    tf.tidy(() => {
      base.weight.assign(scatterColumns(base.weight.value as tf.Tensor2D, original.weight as tf.Tensor2D, this.unitsTensor));
      if (base.bias && original.bias) base.bias.assign(scatterEntries(base.bias.value as tf.Tensor1D, original.bias as tf.Tensor1D, this.unitsTensor));
    });
    tf.dispose([original.weight, original.bias ?? []]);
    this.mergedOriginal = undefined;
    this.merged = false;
  }

  override dispose(): void {
    tf.dispose([this.unitsTensor, this.frozenMask, this.mergedOriginal?.weight ?? [], this.mergedOriginal?.bias ?? []]);
    super.dispose();
  }
}

function checkUnits(units: readonly number[], outFeatures: number): Int32Array {
  const sorted = Int32Array.from(units).sort();
  const valid = sorted.length > 0 && sorted.every((unit, i) => Number.isInteger(unit) && unit >= 0 && unit < outFeatures && (i === 0 || unit !== sorted[i - 1]));
  if (!valid) {
    throw new PeftError('invalid-argument', `far: trained units must be distinct integers in [0, ${outFeatures}); got [${Array.from(units).slice(0, 8).join(', ')}${units.length > 8 ? ', …' : ''}].`, {
      field: 'units',
      value: Array.from(units),
      allowed: `distinct integers in [0, ${outFeatures})`,
    });
  }
  return sorted;
}

function maskOf(units: Int32Array, outFeatures: number): tf.Tensor1D {
  const mask = new Float32Array(outFeatures).fill(1);
  for (const unit of units) mask[unit] = 0;
  return tf.tensor1d(mask);
}

/** weight with columns `units` replaced by `columns` [in, k]. */
function scatterColumns(weight: tf.Tensor2D, columns: tf.Tensor2D, units: tf.Tensor1D): tf.Tensor2D {
  const [, out] = weight.shape;
  const mask = tf.scatterND(tf.expandDims(units, 1), tf.ones([units.shape[0]]), [out]);
  const placed = tf.transpose(tf.scatterND(tf.expandDims(units, 1), tf.transpose(columns), [out, weight.shape[0]]));
  return tf.add(tf.mul(weight, tf.sub(1, mask)), placed) as tf.Tensor2D;
}

function scatterEntries(vector: tf.Tensor1D, entries: tf.Tensor1D, units: tf.Tensor1D): tf.Tensor1D {
  const [size] = vector.shape;
  const mask = tf.scatterND(tf.expandDims(units, 1), tf.ones([units.shape[0]]), [size]);
  return tf.add(tf.mul(vector, tf.sub(1, mask)), tf.scatterND(tf.expandDims(units, 1), entries, [size])) as tf.Tensor1D;
}
