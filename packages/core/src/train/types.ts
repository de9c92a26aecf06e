import type { AppliedMethod } from '../method/types';
import type { Batch, TaskModel } from '../models/types';
import type { Parameter } from '../nn/parameter';

/**
 * What the trainer trains: a task model, the parameters the optimizer updates and the methods
 * whose hooks it calls. `PeftModel` satisfies it structurally; `fullFineTuning(model)` makes one
 * with every parameter trainable.
 */
export interface TrainingTarget {
  readonly model: TaskModel;
  /** The parameters to update; gradients are requested for these and no others. */
  trainableParameters(): Parameter[];
  /** The applied methods whose hooks run during training, in application order. */
  appliedMethods(): readonly AppliedMethod[];
}

/**
 * Training or evaluation data.
 * - An array of batches: the caller owns the tensors; the trainer shuffles their order per epoch
 *   (seeded) and never disposes them.
 * - A function of the epoch (0-based) returning batches: the trainer owns what it yields and
 *   disposes each batch after use, so batches can be padded on the fly (see `exampleBatches`).
 */
export type BatchSource = readonly Batch[] | ((epoch: number) => Iterable<Batch>);

/** Progress events, delivered to `TrainOptions.onEvent` in the order they happen. */
export type TrainEvent =
  | { type: 'start'; step: number; totalSteps: number; resumedFrom?: string }
  | { type: 'calibrate'; step: number; batches: number; methods: string[] }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      /** Mean of the micro-batch losses of this step (task loss plus regularization). */
      loss: number;
      /** The learning rate this step used. */
      learningRate: number;
      /** Global L2 norm of the gradients before clipping (after the methods' transforms). */
      gradientNorm: number;
    }
  | { type: 'eval'; step: number; metrics: Record<string, number> }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'end'; step: number; totalSteps: number; stopped: boolean };

export type TrainEventType = TrainEvent['type'];
