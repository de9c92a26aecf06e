import { invalidArgument } from '../errors/peft-error';

/**
 * The learning rate for an optimizer step, given how many steps were done before it (0 for the
 * first step). Pure function of the step, so resuming needs only the step count.
 */
export type LearningRateSchedule = (step: number) => number;

export const SCHEDULE_NAMES = ['linear', 'constant', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleOptions {
  /** The peak learning rate, reached at the end of warmup. */
  learningRate: number;
  /** Steps of linear warmup from 0. Default 0. */
  warmupSteps?: number;
  /** Total optimizer steps (needed by decaying schedules). */
  totalSteps: number;
}

/**
 * Linear warmup from 0 to the peak over `warmupSteps`, then linear decay to 0 at `totalSteps`,
 * exactly HF's `get_linear_schedule_with_warmup` (so the very first step uses 0 when warmup > 0).
 */
export function linearSchedule(options: ScheduleOptions): LearningRateSchedule {
  const { learningRate, warmupSteps, totalSteps } = checkOptions(options);
  return (step) => {
    if (step < warmupSteps) return (learningRate * step) / Math.max(1, warmupSteps);
    return learningRate * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
}

/** The peak learning rate after an optional linear warmup (HF's `get_constant_schedule_with_warmup`). */
export function constantSchedule(options: ScheduleOptions): LearningRateSchedule {
  const { learningRate, warmupSteps } = checkOptions(options);
  return (step) => (step < warmupSteps ? (learningRate * step) / Math.max(1, warmupSteps) : learningRate);
}

/**
 * Linear warmup, then half a cosine from the peak down to 0 at `totalSteps` (HF's
 * `get_cosine_schedule_with_warmup` with `num_cycles = 0.5`).
 */
export function cosineSchedule(options: ScheduleOptions): LearningRateSchedule {
  const { learningRate, warmupSteps, totalSteps } = checkOptions(options);
  return (step) => {
    if (step < warmupSteps) return (learningRate * step) / Math.max(1, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return learningRate * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  };
}

/** The schedule of that name. */
export function createSchedule(name: ScheduleName, options: ScheduleOptions): LearningRateSchedule {
  switch (name) {
    case 'linear':
      return linearSchedule(options);
    case 'constant':
      return constantSchedule(options);
    case 'cosine':
      return cosineSchedule(options);
    default:
      return invalidArgument('schedule', name, SCHEDULE_NAMES);
  }
}

function checkOptions(options: ScheduleOptions): Required<ScheduleOptions> {
  const warmupSteps = options.warmupSteps ?? 0;
  if (!(options.learningRate >= 0)) invalidArgument('learningRate', options.learningRate, 'a number >= 0');
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) invalidArgument('warmupSteps', warmupSteps, 'an integer >= 0');
  if (!(Number.isInteger(options.totalSteps) && options.totalSteps >= 0)) invalidArgument('totalSteps', options.totalSteps, 'an integer >= 0');
  return { learningRate: options.learningRate, warmupSteps, totalSteps: options.totalSteps };
}
