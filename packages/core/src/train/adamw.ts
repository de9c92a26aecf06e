import { invalidArgument, PeftError } from '../errors/peft-error';
import type { Parameter } from '../nn/parameter';
import type { TensorKind } from '../nn/roles';
import { tf } from '../nn/tf';
import type { Optimizer, OptimizerState } from './optimizer';

/** Tensor kinds left out of weight decay by default: biases and LayerNorm gamma/beta, as HF's Trainer does. */
export const DEFAULT_NO_DECAY_KINDS: readonly TensorKind[] = ['bias', 'gamma', 'beta'];

export interface AdamWOptions {
  /** Step size α (multiplied by the schedule in the trainer). Default 1e-3 (PyTorch's AdamW). */
  learningRate?: number;
  /** Decay of the first moment. Default 0.9. */
  beta1?: number;
  /** Decay of the second moment. Default 0.999. */
  beta2?: number;
  /** Added to √v̂ in the denominator. Default 1e-8 (PyTorch's; tfjs' Adam uses 1e-7). */
  epsilon?: number;
  /** Decoupled weight decay λ. Default 0.01 (PyTorch's AdamW). */
  weightDecay?: number;
  /**
   * Which parameters get no weight decay: a list of tensor kinds, or a predicate returning true
   * for the excluded ones. Default `DEFAULT_NO_DECAY_KINDS`.
   */
  excludeFromWeightDecay?: readonly TensorKind[] | ((parameter: Parameter) => boolean);
  /** Names for the parameters (same order), used as keys in `state()`. Default their indices. */
  names?: readonly string[];
}

/** AdamW's saved state: moment tensors keyed `<name>.exp_avg` / `<name>.exp_avg_sq` (PyTorch's names) and per-parameter step counts. */
export type AdamWState = OptimizerState;

interface Moments {
  firstMoment: tf.Tensor;
  secondMoment: tf.Tensor;
  step: number;
}

/**
 * AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization", ICLR 2019, Algorithm 2), in PyTorch's form (`torch.optim.AdamW`):
 *
 *   θ ← θ − α·λ·θ                      (decay, decoupled from the gradient; skipped for excluded kinds)
 *   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
 *   θ ← θ − α · m̂ / (√v̂ + ε),   m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)   (bias correction, §2 of Adam)
 *
 * As in PyTorch the decay is scaled by the scheduled learning rate α (the paper's η_t·λ with
 * α folded in). State exists only for the parameters given (the trainable ones), created at
 * their first update.
 *
 * @example
 * const optimizer = new AdamW(model.trainableParameters(), { learningRate: 1e-3, weightDecay: 0.01 });
 * optimizer.step(gradients); // Map<Parameter, tf.Tensor>
 */
export class AdamW implements Optimizer {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly parameters: readonly Parameter[];
  private readonly optimized: ReadonlySet<Parameter>;
  private readonly names: readonly string[];
  private readonly decays: ReadonlySet<Parameter>;
  private readonly moments = new Map<Parameter, Moments>();

  constructor(parameters: readonly Parameter[], options: AdamWOptions = {}) {
    this.learningRate = options.learningRate ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    if (!(this.learningRate >= 0)) invalidArgument('learningRate', this.learningRate, 'a number >= 0');
    if (!(this.beta1 >= 0 && this.beta1 < 1)) invalidArgument('beta1', this.beta1, 'a number in [0, 1)');
    if (!(this.beta2 >= 0 && this.beta2 < 1)) invalidArgument('beta2', this.beta2, 'a number in [0, 1)');
    if (!(this.epsilon > 0)) invalidArgument('epsilon', this.epsilon, 'a number > 0');
    if (!(this.weightDecay >= 0)) invalidArgument('weightDecay', this.weightDecay, 'a number >= 0');
    if (new Set(parameters).size !== parameters.length) invalidArgument('parameters', `${parameters.length} parameters with duplicates`, 'each parameter once');
    this.parameters = [...parameters];
    this.optimized = new Set(parameters);
    const names = options.names ?? parameters.map((_, index) => String(index));
    if (names.length !== parameters.length || new Set(names).size !== names.length) {
      invalidArgument('names', names, `${parameters.length} distinct names, one per parameter`);
    }
    this.names = [...names];
    const exclude = options.excludeFromWeightDecay ?? DEFAULT_NO_DECAY_KINDS;
    const excluded = typeof exclude === 'function' ? exclude : (parameter: Parameter) => exclude.includes(parameter.kind);
    this.decays = new Set(parameters.filter((parameter) => !excluded(parameter)));
  }

  /** Whether weight decay applies to this parameter. */
  appliesWeightDecay(parameter: Parameter): boolean {
    return this.decays.has(parameter);
  }

  /**
   * Applies one update with the given gradients. Parameters without a gradient in the map are
   * left untouched (their moments do not advance, as in PyTorch when `p.grad` is None). Gradients
   * for parameters this optimizer was not given are an error. The gradients are not disposed.
   */
  step(gradients: ReadonlyMap<Parameter, tf.Tensor>): void {
    for (const parameter of gradients.keys()) {
      if (!this.optimized.has(parameter)) {
        throw new PeftError('invalid-argument', 'AdamW.step got a gradient for a parameter it does not optimize (a frozen or foreign parameter).', {
          field: 'gradients',
          value: parameter.shape,
          allowed: 'gradients of the parameters given to the constructor',
        });
      }
    }
    for (const parameter of this.parameters) {
      const gradient = gradients.get(parameter);
      if (gradient === undefined) continue;
      if (!tf.util.arraysEqual(gradient.shape, parameter.shape)) {
        invalidArgument('gradients', gradient.shape, `a gradient of shape [${parameter.shape.join(', ')}]`);
      }
      this.update(parameter, gradient);
    }
  }

  private update(parameter: Parameter, gradient: tf.Tensor): void {
    const previous = this.moments.get(parameter);
    const step = (previous?.step ?? 0) + 1;
    const { beta1, beta2, epsilon, learningRate } = this;
    const decay = this.decays.has(parameter) ? learningRate * this.weightDecay : 0;
    const [firstMoment, secondMoment] = tf.tidy(() => {
      const g = gradient.toFloat();
      const m = previous ? tf.add(tf.mul(previous.firstMoment, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
      const v = previous ? tf.add(tf.mul(previous.secondMoment, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
      const correctedFirst = tf.div(m, 1 - beta1 ** step);
      const correctedSecond = tf.div(v, 1 - beta2 ** step);
      const update = tf.mul(tf.div(correctedFirst, tf.add(tf.sqrt(correctedSecond), epsilon)), learningRate);
      const theta = parameter.value;
      const decayed = decay === 0 ? theta : tf.mul(theta, 1 - decay);
      parameter.variable.assign(tf.sub(decayed, update));
      return [m, v];
    }) as [tf.Tensor, tf.Tensor];
    previous?.firstMoment.dispose();
    previous?.secondMoment.dispose();
    this.moments.set(parameter, { firstMoment, secondMoment, step });
  }

  /** The optimizer's tensors and step counts, for a checkpoint. Tensors stay owned by the optimizer. */
  state(): AdamWState {
    const tensors: Record<string, tf.Tensor> = {};
    const steps: Record<string, number> = {};
    this.parameters.forEach((parameter, index) => {
      const moments = this.moments.get(parameter);
      if (!moments) return;
      const name = this.names[index]!;
      tensors[`${name}.exp_avg`] = moments.firstMoment;
      tensors[`${name}.exp_avg_sq`] = moments.secondMoment;
      steps[name] = moments.step;
    });
    return { tensors, steps };
  }

  /**
   * Replaces the state with one from `state()` (tensors are copied; the caller keeps ownership of
   * its own). Unknown names or wrong shapes are a 'checkpoint-mismatch' error.
   */
  load(state: AdamWState): void {
    const byName = new Map(this.names.map((name, index) => [name, this.parameters[index]!] as const));
    for (const name of Object.keys(state.steps)) {
      if (!byName.has(name)) throw mismatch(`optimizer state for unknown parameter "${name}"`, name, [...byName.keys()]);
    }
    for (const key of Object.keys(state.tensors)) {
      const name = key.replace(/\.exp_avg(_sq)?$/, '');
      if (state.steps[name] === undefined) throw mismatch(`optimizer tensor "${key}" without a step count`, key, Object.keys(state.steps));
    }
    const loaded = new Map<Parameter, Moments>();
    for (const [name, step] of Object.entries(state.steps)) {
      const parameter = byName.get(name)!;
      const first = state.tensors[`${name}.exp_avg`];
      const second = state.tensors[`${name}.exp_avg_sq`];
      for (const [key, tensor] of [[`${name}.exp_avg`, first], [`${name}.exp_avg_sq`, second]] as const) {
        if (!tensor) throw mismatch(`optimizer state lacks "${key}"`, key, Object.keys(state.tensors));
        if (!tf.util.arraysEqual(tensor.shape, parameter.shape)) throw mismatch(`"${key}" has shape [${tensor.shape.join(', ')}], expected [${parameter.shape.join(', ')}]`, tensor.shape, `[${parameter.shape.join(', ')}]`);
      }
      if (!(Number.isInteger(step) && step > 0)) throw mismatch(`step count of "${name}" is ${step}`, step, 'a positive integer');
      loaded.set(parameter, { firstMoment: first!.clone(), secondMoment: second!.clone(), step });
    }
    this.disposeMoments();
    for (const [parameter, moments] of loaded) this.moments.set(parameter, moments);
  }

  /** Frees the moment tensors. */
  dispose(): void {
    this.disposeMoments();
  }

  private disposeMoments(): void {
    for (const moments of this.moments.values()) {
      moments.firstMoment.dispose();
      moments.secondMoment.dispose();
    }
    this.moments.clear();
  }
}

function mismatch(message: string, value: unknown, allowed: string | readonly string[]): PeftError {
  return new PeftError('checkpoint-mismatch', `Cannot load AdamW state: ${message}.`, { field: 'optimizer', value, allowed });
}
