import { trackGradientTargets } from '../grad/gradient-targets';
import { tf } from './tf';
import type { TensorKind } from './roles';

export interface ParameterOptions {
  /** Whether the optimizer updates it. Frozen parameters never get gradients asked for. */
  trainable?: boolean;
  /** What kind of tensor this is inside its module (`weight`, `bias`, `gamma`, `beta`, ...). */
  kind?: TensorKind;
}

/**
 * A named tensor a module owns: a tf.Variable plus a trainable flag and a tensor kind.
 * The parameter takes ownership of the initial value (it is disposed after copying into the
 * variable unless it is itself a Variable).
 */
export class Parameter {
  readonly variable: tf.Variable;
  trainable: boolean;
  readonly kind: TensorKind;
  private valueOverride: (() => tf.Tensor) | undefined;

  constructor(initial: tf.Tensor, options: ParameterOptions = {}) {
    // Core's layer ops decide what to keep for backward from the gradient calls they see: the
    // tracking must be in place before the first one starts (installed inside a running call, it
    // gave wrong gradients through P-tuning's encoder). Idempotent.
    trackGradientTargets();
    this.trainable = options.trainable ?? true;
    this.kind = options.kind ?? 'weight';
    // tfjs' own trainable flag stays true: gradients are requested explicitly per parameter,
    // and the flag here is what decides.
    this.variable = initial instanceof tf.Variable ? initial : tf.variable(initial, true);
    if (!(initial instanceof tf.Variable)) initial.dispose();
  }

  get shape(): number[] {
    return this.variable.shape;
  }

  get size(): number {
    return this.variable.size;
  }

  /**
   * The live value; record it inside a gradient scope to get gradients for this parameter. A method
   * that reparametrizes the whole tensor (Intrinsic SAID's θ0 + P(θd)) substitutes a computed value
   * with `overrideValue`; that value is a fresh tensor per read, so read it inside tf.tidy.
   */
  get value(): tf.Tensor {
    return this.valueOverride ? this.valueOverride() : this.variable;
  }

  /** Whether a method currently substitutes the value (see `overrideValue`). */
  get isOverridden(): boolean {
    return this.valueOverride !== undefined;
  }

  /**
   * Makes `value` return `compute()` instead of the variable (undefined restores it). The variable
   * itself is untouched: it stays the base value the computation may start from.
   */
  overrideValue(compute: (() => tf.Tensor) | undefined): void {
    this.valueOverride = compute;
  }

  /** Replaces the value in place, checking the shape matches. */
  assign(value: tf.Tensor): void {
    if (!tf.util.arraysEqual(value.shape, this.variable.shape)) {
      throw new Error(
        `Parameter.assign: shape [${value.shape.join(', ')}] does not match [${this.variable.shape.join(', ')}]`,
      );
    }
    this.variable.assign(value);
  }

  freeze(): this {
    this.trainable = false;
    return this;
  }

  unfreeze(): this {
    this.trainable = true;
    return this;
  }

  dispose(): void {
    if (!this.variable.isDisposed) this.variable.dispose();
  }
}
