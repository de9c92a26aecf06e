import type { Parameter } from '../nn/parameter';

/**
 * Float32 copies of the base model's parameter values, taken before any method is applied, so the
 * report can count *changed* entries after training (not only trainable ones).
 */
export class BaseSnapshot {
  private readonly values = new Map<Parameter, Float32Array>();

  constructor(parameters: Iterable<Parameter>) {
    for (const parameter of parameters) {
      if (this.values.has(parameter)) continue;
      this.values.set(parameter, Float32Array.from(parameter.variable.dataSync() as ArrayLike<number>));
    }
  }

  parameters(): Parameter[] {
    return [...this.values.keys()];
  }

  has(parameter: Parameter): boolean {
    return this.values.has(parameter);
  }

  /** How many entries of the parameter now differ from the snapshot (0 and -0 are equal; NaN stays NaN is no change). */
  changedEntries(parameter: Parameter): number {
    const base = this.values.get(parameter);
    if (!base) return parameter.size;
    const current = parameter.variable.dataSync() as ArrayLike<number>;
    if (current.length !== base.length) return current.length;
    let changed = 0;
    for (let i = 0; i < base.length; i++) {
      const now = current[i]!;
      const before = base[i]!;
      if (now !== before && !(Number.isNaN(now) && Number.isNaN(before))) changed++;
    }
    return changed;
  }
}
