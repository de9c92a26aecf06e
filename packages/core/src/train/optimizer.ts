import type { Parameter } from '../nn/parameter';
import type { TensorKind } from '../nn/roles';
import type { tf } from '../nn/tf';

/** An optimizer's saved state: its tensors by key and update counts per parameter name. */
export interface OptimizerState {
  /** The optimizer's own tensors; the caller must not dispose them. */
  tensors: Record<string, tf.Tensor>;
  /** Updates applied so far, per parameter name (parameters never updated are absent). */
  steps: Record<string, number>;
}

/**
 * What the trainer needs from an optimizer: AdamW implements it, and so can one that keeps its
 * state in another space (GaLore's projected moments).
 */
export interface Optimizer {
  /** The step size of the next update (the trainer sets it from the schedule before each step). */
  learningRate: number;
  /** Applies one update; parameters without a gradient in the map are left untouched. */
  step(gradients: ReadonlyMap<Parameter, tf.Tensor>): void;
  state(): OptimizerState;
  /** Replaces the state with one from `state()`; a state that does not fit is a 'checkpoint-mismatch' error. */
  load(state: OptimizerState): void;
  dispose(): void;
}

/** The trainer's optimizer settings, handed to an optimizer factory. */
export interface OptimizerSettings {
  learningRate: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon: number;
  excludeFromWeightDecay?: readonly TensorKind[] | ((parameter: Parameter) => boolean);
  /** The parameters' names (paths), in order: the keys of `state()`. */
  names: readonly string[];
}

/** Makes the optimizer of a training run (`TrainOptions.optimizer`). */
export type OptimizerFactory = (parameters: readonly Parameter[], settings: OptimizerSettings) => Optimizer;
