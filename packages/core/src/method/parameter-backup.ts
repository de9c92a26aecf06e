import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';

/**
 * The values of some parameters at one moment, to restore them bit for bit. A clone shares its
 * data buffer on most backends and `assign` gives the variable a new one, so holding the clones
 * costs memory only for the parameters that change afterwards.
 */
export class ParameterBackup {
  private readonly saved = new Map<Parameter, { value: tf.Tensor; dataId: object }>();

  constructor(parameters: Iterable<Parameter>) {
    for (const parameter of parameters) {
      if (this.saved.has(parameter)) continue;
      this.saved.set(parameter, { value: tf.clone(parameter.variable), dataId: parameter.variable.dataId });
    }
  }

  /** A marker of the parameters' current buffers, to ask later which of them were reassigned. */
  mark(): Map<Parameter, object> {
    return new Map([...this.saved.keys()].map((parameter) => [parameter, parameter.variable.dataId]));
  }

  /** The parameters whose value was reassigned since `mark` (or since the backup). */
  changedSince(mark?: ReadonlyMap<Parameter, object>): Parameter[] {
    return [...this.saved].filter(([parameter, entry]) => parameter.variable.dataId !== (mark?.get(parameter) ?? entry.dataId)).map(([parameter]) => parameter);
  }

  /** Puts back the saved values of every parameter that changed. */
  restore(): void {
    for (const parameter of this.changedSince()) parameter.assign(this.saved.get(parameter)!.value);
  }

  dispose(): void {
    for (const { value } of this.saved.values()) value.dispose();
    this.saved.clear();
  }
}

/** True when every entry of the tensor is finite. */
export function isAllFinite(tensor: tf.Tensor): boolean {
  if (tensor.dtype !== 'float32') return true;
  const flag = tf.tidy(() => tf.all(tf.isFinite(tensor)));
  const result = flag.dataSync()[0] === 1;
  flag.dispose();
  return result;
}
