import { PeftError } from '../../errors/peft-error';
import type { Parameter } from '../../nn/parameter';
import { tf } from '../../nn/tf';

/** What a selective method chose to train in one parameter: all of it, or some flat entries. */
export interface TensorSelection {
  /** Dotted path of the parameter in the model. */
  path: string;
  parameter: Parameter;
  /** Sorted flat (row-major) indices of the trained entries; undefined trains the whole tensor. */
  indices?: Int32Array;
}

/**
 * Owns one selected parameter while a selective method is applied: the base values (to disable
 * the method and to keep frozen entries exact), the 0/1 mask of a partial selection, and the
 * trained values while the method is disabled.
 *
 * A partial selection is enforced twice: `maskGradient` zeroes the gradient outside the mask (so
 * Adam's moments stay 0 there and its update is exactly 0), and `restoreFrozenEntries` writes the
 * base values back after each optimizer step, because decoupled weight decay (AdamW) shrinks the
 * whole tensor whatever its gradient.
 */
export class SelectedTensor {
  readonly path: string;
  readonly parameter: Parameter;
  readonly indices: Int32Array | undefined;
  /** True where the entry is trained; only for partial selections. */
  readonly mask: tf.Tensor | undefined;
  private readonly original: tf.Tensor;
  private readonly indexTensor: tf.Tensor | undefined;
  private trainedWhileDisabled: tf.Tensor | undefined;
  private stateValues: tf.Tensor | undefined;

  constructor(selection: TensorSelection) {
    this.path = selection.path;
    this.parameter = selection.parameter;
    const size = selection.parameter.size;
    const partial = selection.indices !== undefined && selection.indices.length < size;
    this.indices = partial ? selection.indices : undefined;
    this.original = tf.clone(selection.parameter.variable);
    if (this.indices) {
      const flags = new Uint8Array(size);
      for (const index of this.indices) flags[index] = 1;
      this.mask = tf.tensor(flags, selection.parameter.shape, 'bool');
      this.indexTensor = tf.tensor1d(this.indices, 'int32');
    }
  }

  /** Entries this selection trains. */
  get entries(): number {
    return this.indices ? this.indices.length : this.parameter.size;
  }

  get isPartial(): boolean {
    return this.indices !== undefined;
  }

  get isEnabled(): boolean {
    return this.trainedWhileDisabled === undefined;
  }

  /** The gradient with entries outside the selection set to 0 (the same tensor for whole selections). */
  maskGradient(gradient: tf.Tensor): tf.Tensor {
    if (!this.mask) return gradient;
    return tf.tidy(() => tf.where(this.mask!, gradient, tf.zerosLike(gradient)));
  }

  /** Writes the base values back into the entries outside the selection (bit for bit). */
  restoreFrozenEntries(): void {
    if (!this.mask || !this.isEnabled) return;
    const restored = tf.tidy(() => tf.where(this.mask!, this.parameter.value, this.original));
    this.parameter.assign(restored);
    restored.dispose();
  }

  /** Disabled: the base values are in place and the trained ones kept aside; enabled: swapped back. */
  setEnabled(enabled: boolean): void {
    if (enabled === this.isEnabled) return;
    if (enabled) {
      this.parameter.assign(this.trainedWhileDisabled!);
      this.trainedWhileDisabled!.dispose();
      this.trainedWhileDisabled = undefined;
    } else {
      this.trainedWhileDisabled = tf.clone(this.parameter.variable);
      this.parameter.assign(this.original);
    }
  }

  /**
   * The saved tensors: the whole parameter under its path, or for a partial selection only the
   * trained entries (`<path>.values`) with their flat indices (`<path>.indices`). Owned here.
   */
  state(): Record<string, tf.Tensor> {
    const current = this.trainedWhileDisabled ?? this.parameter.value;
    if (!this.indexTensor) return { [this.path]: current };
    this.stateValues?.dispose();
    this.stateValues = tf.tidy(() => tf.gather(current.reshape([-1]), this.indexTensor!));
    return { [`${this.path}.indices`]: this.indexTensor, [`${this.path}.values`]: this.stateValues };
  }

  /** The keys `state()` writes. */
  stateKeys(): string[] {
    return this.indexTensor ? [`${this.path}.indices`, `${this.path}.values`] : [this.path];
  }

  /**
   * Loads what `state()` wrote. A partial selection must find the same indices (same config and
   * model shape); the entries outside them keep this model's base values.
   */
  load(state: Record<string, tf.Tensor>, methodName: string): void {
    if (!this.indices) {
      const tensor = state[this.path]!;
      if (!tf.util.arraysEqual(tensor.shape, this.parameter.shape)) throw mismatch(methodName, this.path, `shape [${tensor.shape.join(', ')}]`, `[${this.parameter.shape.join(', ')}]`);
      this.write(tensor);
      return;
    }
    const indices = state[`${this.path}.indices`]!;
    const values = state[`${this.path}.values`]!;
    const saved = indices.dataSync();
    const same = indices.dtype === 'int32' && saved.length === this.indices.length && this.indices.every((index, i) => saved[i] === index);
    if (!same) throw mismatch(methodName, `${this.path}.indices`, 'other indices (another seed, budget or model shape)', `the ${this.indices.length} indices this config selects`);
    if (values.size !== this.indices.length) throw mismatch(methodName, `${this.path}.values`, `${values.size} values`, `${this.indices.length} values`);
    const next = Float32Array.from(this.original.dataSync() as Float32Array);
    const loaded = values.dataSync();
    this.indices.forEach((index, i) => (next[index] = loaded[i]!));
    const tensor = tf.tensor(next, this.parameter.shape, 'float32');
    this.write(tensor);
    tensor.dispose();
  }

  /** Puts the base values back and releases everything this selection holds. */
  restoreAndDispose(): void {
    this.parameter.assign(this.original);
    tf.dispose([this.original, this.mask ?? [], this.indexTensor ?? [], this.trainedWhileDisabled ?? [], this.stateValues ?? []]);
    this.trainedWhileDisabled = undefined;
  }

  private write(tensor: tf.Tensor): void {
    if (this.trainedWhileDisabled) {
      this.trainedWhileDisabled.dispose();
      this.trainedWhileDisabled = tf.clone(tensor);
    } else {
      this.parameter.assign(tensor);
    }
  }
}

function mismatch(methodName: string, key: string, got: string, expected: string): PeftError {
  return new PeftError('checkpoint-mismatch', `${methodName}: ${key} has ${got}; expected ${expected}.`, { field: key, value: got, allowed: expected });
}
