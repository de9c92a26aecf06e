import { Module, Parameter, PeftError, tf } from '@peftjs/core';
import { deltaSite, releaseSite, type DeltaSite, type SiteContribution } from './delta-site';

/** A tensor a sparse delta may change. */
export interface SparseDeltaTarget {
  path: string;
  parameter: Parameter;
}

/** Holds the trainable delta vector in the module tree (attached to the model; no layer calls it). */
class DeltaValues extends Module<[], never> {
  constructor(size: number) {
    super();
    this.registerParameter('values', new Parameter(tf.zeros([size]), { kind: 'sparse_delta' }));
  }

  get values(): Parameter {
    return this.parameter('values');
  }

  forward(): never {
    throw new PeftError('invalid-argument', 'The sparse delta holder is not a layer.', { field: 'forward' });
  }
}

/** The part of the delta that falls in one target tensor. */
interface Segment {
  target: number;
  /** Position of its first value in the delta vector. */
  start: number;
  count: number;
  localIndices: tf.Tensor1D;
  contribution: SiteContribution;
  /** The variable's entries at the indices before merge (k values), to unmerge bit for bit. */
  original?: tf.Tensor;
}

/**
 * A sparse delta over a fixed list of tensors (Fu et al., "On the Effectiveness of
 * Parameter-Efficient Fine-Tuning", §2, Definition 1: θ = θ0 + M ⊙ Δθ with ‖M‖0 = k): k global
 * indices into the concatenation of the targets (row-major, in target order) and one trainable
 * vector δ of k values. Each target reads W0 + scatter(indices, δ) through a custom-gradient op
 * (`scatterAdd`), so the gradient, Adam's moments and the saved file all have k entries.
 *
 * k is fixed when the delta is made (the trainer sizes its optimizer before `calibrate` runs);
 * `setIndices` may move the k entries anywhere across the targets (a global top-k puts more of them
 * in some tensors than in others) and resets δ.
 */
export class SparseDelta {
  readonly size: number;
  readonly targets: readonly SparseDeltaTarget[];
  readonly holderName: string;
  /** Entries of all targets together (the global index space). */
  readonly totalEntries: number;
  private readonly offsets: number[];
  private readonly holder: DeltaValues;
  private readonly sites: DeltaSite[];
  private indices: Int32Array;
  private indexTensor: tf.Tensor1D;
  private segments: Segment[] = [];
  private enabled = true;
  private merged = false;
  private removed = false;

  constructor(options: { model: Module<any, any>; holderName: string; targets: readonly SparseDeltaTarget[]; indices: Int32Array; method: string }) {
    const { model, targets, method } = options;
    this.targets = targets;
    this.holderName = options.holderName;
    this.offsets = [];
    let total = 0;
    for (const { parameter } of targets) {
      this.offsets.push(total);
      total += parameter.size;
    }
    if (total > 2 ** 31 - 1) throw new PeftError('invalid-config', `${method}: the targets hold ${total} entries, more than int32 indices address.`, { field: 'targets', value: total, allowed: 'at most 2^31 − 1 entries' });
    this.totalEntries = total;
    this.size = options.indices.length;
    this.sites = targets.map(({ parameter, path }) => deltaSite(parameter, path, method));
    this.holder = model.attach(options.holderName, new DeltaValues(this.size));
    this.indices = new Int32Array(0);
    this.indexTensor = tf.tensor1d([], 'int32');
    this.setIndices(options.indices);
  }

  /** The trainable vector δ (k entries). */
  get values(): Parameter {
    return this.holder.values;
  }

  get isMerged(): boolean {
    return this.merged;
  }

  /** The sorted global indices (a copy). */
  globalIndices(): Int32Array {
    return this.indices.slice();
  }

  /** How many of the k entries fall in each target, in target order. */
  entriesPerTarget(): number[] {
    const counts = this.targets.map(() => 0);
    for (const segment of this.segments) counts[segment.target] = segment.count;
    return counts;
  }

  /** The flat indices inside target `t`, sorted. */
  localIndices(t: number): Int32Array {
    const segment = this.segments.find((s) => s.target === t);
    if (!segment) return new Int32Array(0);
    return Int32Array.from(this.indices.subarray(segment.start, segment.start + segment.count), (index) => index - this.offsets[t]!);
  }

  /**
   * Moves the k entries to `indices` (global, any order, no duplicates) and sets δ to `values`
   * (aligned with `indices`; zeros by default). Not while merged.
   */
  setIndices(indices: Int32Array, values?: Float32Array): void {
    if (this.merged) throw new PeftError('invalid-argument', 'A merged sparse delta cannot move its entries; unmerge first.', { field: 'indices' });
    const sorted = checkIndices(indices, this.size, this.totalEntries);
    const order = values ? argsort(indices) : undefined;
    this.dropSegments();
    this.indices = sorted;
    this.indexTensor.dispose();
    this.indexTensor = tf.tensor1d(sorted, 'int32');
    let position = 0;
    for (let t = 0; t < this.targets.length; t++) {
      const start = position;
      const end = this.offsets[t]! + this.targets[t]!.parameter.size;
      while (position < sorted.length && sorted[position]! < end) position++;
      const count = position - start;
      if (count === 0) continue;
      const local = Int32Array.from(sorted.subarray(start, position), (index) => index - this.offsets[t]!);
      const localIndices = tf.tensor1d(local, 'int32');
      const contribution: SiteContribution = {
        indices: localIndices,
        values: () => tf.slice(this.values.value, [start], [count]) as tf.Tensor1D,
        active: () => this.enabled && !this.merged && !this.removed,
      };
      this.segments.push({ target: t, start, count, localIndices, contribution });
      this.sites[t]!.add(contribution);
    }
    const next = values ? tf.tensor1d(Float32Array.from(order!, (i) => values[i]!)) : tf.zeros([this.size]);
    this.values.assign(next);
    next.dispose();
  }

  /** The file form: `indices` (int32, global, sorted) and `values` (float32), k each. Owned here. */
  state(): Record<string, tf.Tensor> {
    return { indices: this.indexTensor, values: this.values.value };
  }

  /** Loads what `state()` wrote, wherever its indices fall (another seed or calibration). */
  load(state: Record<string, tf.Tensor>, method: string): void {
    const indices = state.indices;
    const values = state.values;
    for (const [key, tensor, dtype] of [['indices', indices, 'int32'], ['values', values, 'float32']] as const) {
      if (!tensor || tensor.dtype !== dtype || tensor.rank !== 1 || tensor.size !== this.size) {
        throw new PeftError('checkpoint-mismatch', `${method}: ${key} is ${tensor ? `${tensor.dtype} [${tensor.shape.join(', ')}]` : 'missing'}; expected ${dtype} [${this.size}].`, {
          field: key,
          value: tensor?.shape,
          allowed: `${dtype} [${this.size}]`,
        });
      }
    }
    const wasMerged = this.merged;
    if (wasMerged) this.unmerge();
    try {
      this.setIndices(Int32Array.from(indices!.dataSync() as Int32Array), Float32Array.from(values!.dataSync() as Float32Array));
    } catch (error) {
      if (PeftError.hasCode(error, 'invalid-argument')) throw new PeftError('checkpoint-mismatch', `${method}: ${(error as PeftError).message}`, { field: 'indices' });
      throw error;
    } finally {
      if (wasMerged) this.merge();
    }
  }

  /** Writes δ into the weights: W[indices] = W0[indices] + δ, bit for bit what the forward computes. */
  merge(): void {
    if (this.merged) return;
    tf.tidy(() => {
      for (const segment of this.segments) {
        const { parameter } = this.targets[segment.target]!;
        const flat = tf.reshape(parameter.variable, [parameter.size]);
        const original = tf.gather(flat, segment.localIndices);
        const delta = tf.slice(this.values.value, [segment.start], [segment.count]);
        const merged = tf.tensorScatterUpdate(flat, tf.expandDims(segment.localIndices, 1), tf.add(original, delta));
        parameter.assign(tf.reshape(merged, parameter.shape));
        segment.original = tf.keep(original);
      }
    });
    this.merged = true;
    this.refreshSites();
  }

  /** Puts the k original entries back (bit for bit). */
  unmerge(): void {
    if (!this.merged) return;
    tf.tidy(() => {
      for (const segment of this.segments) {
        const { parameter } = this.targets[segment.target]!;
        const flat = tf.reshape(parameter.variable, [parameter.size]);
        parameter.assign(tf.reshape(tf.tensorScatterUpdate(flat, tf.expandDims(segment.localIndices, 1), segment.original!), parameter.shape));
      }
    });
    for (const segment of this.segments) {
      segment.original?.dispose();
      delete segment.original;
    }
    this.merged = false;
    this.refreshSites();
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    this.refreshSites();
  }

  /** Runs `run` with every target reading its bare variable (dense gradients for calibration). */
  withoutDeltas<T>(run: () => T): T {
    const wrap = this.sites.reduceRight<() => T>((inner, site) => () => site.withoutDeltas(inner), run);
    return wrap();
  }

  /** Unmerges, takes the delta off every target and frees it. */
  remove(model: Module<any, any>): void {
    if (this.merged) this.unmerge();
    this.removed = true;
    this.dropSegments();
    this.sites.forEach(releaseSite);
    model.removeChild(this.holderName);
    this.values.dispose();
    this.indexTensor.dispose();
  }

  private refreshSites(): void {
    for (const segment of this.segments) this.sites[segment.target]!.refresh();
  }

  private dropSegments(): void {
    for (const segment of this.segments) {
      this.sites[segment.target]!.delete(segment.contribution);
      segment.localIndices.dispose();
      segment.original?.dispose();
    }
    this.segments = [];
  }
}

function checkIndices(indices: Int32Array, size: number, total: number): Int32Array {
  if (indices.length !== size) throw new PeftError('invalid-argument', `The sparse delta holds ${size} entries; got ${indices.length} indices.`, { field: 'indices', value: indices.length, allowed: `${size} indices` });
  const sorted = Int32Array.from(indices).sort();
  for (let i = 0; i < sorted.length; i++) {
    const index = sorted[i]!;
    if (index < 0 || index >= total) throw new PeftError('invalid-argument', `Index ${index} is outside the ${total} entries of the targets.`, { field: 'indices', value: index, allowed: `0 ≤ index < ${total}` });
    if (i > 0 && sorted[i - 1] === index) throw new PeftError('invalid-argument', `Index ${index} appears twice.`, { field: 'indices', value: index, allowed: 'distinct indices' });
  }
  return sorted;
}

function argsort(indices: Int32Array): Int32Array {
  const order = Int32Array.from(indices, (_, i) => i);
  return order.sort((a, b) => indices[a]! - indices[b]!);
}
