import { invalidArgument, PeftError } from '../errors/peft-error';
import type { AppliedMethod, CalibrationContext, StepInfo } from '../method/types';
import type { Batch } from '../models/types';
import type { Parameter } from '../nn/parameter';
import type { TensorKind } from '../nn/roles';
import { tf } from '../nn/tf';
import { globalSeeds, SeedStream, setGlobalSeed } from '../util/random';
import { AdamW } from './adamw';
import type { Optimizer, OptimizerFactory, OptimizerSettings } from './optimizer';
import { evaluate } from './evaluate';
import { disposeBatch } from './example-batches';
import { GradientAccumulator } from './gradient-accumulator';
import { clipByGlobalNorm, globalNorm } from './gradient-clipping';
import { createSchedule, type LearningRateSchedule, type ScheduleName } from './learning-rate-schedule';
import type { Metrics } from './metrics/compute-metrics';
import { trainableParameterNames } from './parameter-names';
import { shuffledIndices } from './shuffle';
import { latestCheckpoint, loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainerState } from './training-checkpoint';
import { setTrainingMode } from './training-mode';
import type { BatchSource, TrainEvent, TrainingTarget } from './types';

/** How to train. Defaults follow HF's `TrainingArguments` unless said otherwise. */
export interface TrainOptions {
  /** Training batches (see BatchSource for who owns the tensors). */
  data: BatchSource;
  /** Passes over the data. Default 3. Ignored when maxSteps is set (unless also set, then the first limit reached wins). */
  epochs?: number;
  /** Optimizer steps to run; required when `data` is a function. */
  maxSteps?: number;
  /** Peak learning rate. Default 5e-5. */
  learningRate?: number;
  /** Learning-rate schedule by name or as a function of the step. Default 'linear' (warmup then decay to 0). */
  schedule?: ScheduleName | LearningRateSchedule;
  /** Warmup steps of the named schedules. Default 0. */
  warmupSteps?: number;
  /** Warmup as a fraction of the total steps (used when warmupSteps is not given). */
  warmupRatio?: number;
  /** AdamW's decoupled weight decay. Default 0. */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
  /** Kinds (or a predicate) left out of weight decay. Default bias, gamma, beta. */
  excludeFromWeightDecay?: readonly TensorKind[] | ((parameter: Parameter) => boolean);
  /**
   * Makes the optimizer from the trainable parameters and the settings above; default AdamW. An
   * optimizer with its own state (e.g. GaLore from @peftjs/lora) plugs in here; checkpoints save its state.
   */
  optimizer?: OptimizerFactory;
  /** Micro-batches per optimizer step; gradients are averaged over them. Default 1. */
  gradientAccumulationSteps?: number;
  /** Clip the global gradient norm to this; null disables clipping. Default 1. */
  maxGradNorm?: number | null;
  /** Seeds the global stream (dropout, method randomness) and the data order. Default 42. */
  seed?: number;
  /** Shuffle the order of array batches each epoch (seeded). Default true. */
  shuffle?: boolean;
  /** Batches given to the methods' `calibrate` hooks before training (the first ones, in order). Default 8. */
  calibrationBatches?: number;
  /** Labelled batches to evaluate on (every `evalEvery` steps and at the end). */
  evalData?: BatchSource;
  /** Evaluate every N steps (0: only at the end). Default 0. */
  evalEvery?: number;
  /** Save checkpoints here (atomically, one file per checkpoint). */
  checkpointDir?: string;
  /** Save every N steps (and at the end). Default 500. */
  checkpointEvery?: number;
  /** Keep only the newest N checkpoints. Default: keep all. */
  keepCheckpoints?: number;
  /** Resume: true for the newest checkpoint in `checkpointDir` (a fresh start when there is none), or a checkpoint file path. */
  resume?: boolean | string;
  /** Stops training after the current step when aborted. */
  signal?: AbortSignal;
  /** Progress events. An exception thrown here stops training. */
  onEvent?: (event: TrainEvent) => void;
}

/** What a training run did. */
export interface TrainResult {
  /** Optimizer steps done (including those before a resume). */
  step: number;
  totalSteps: number;
  /** Loss of every step from the first (before a resume too), losses[i] for step i + 1. */
  losses: number[];
  /** Evaluations of this run, in order. */
  evaluations: Array<{ step: number; metrics: Metrics }>;
  /** True when stopped early by the signal. */
  stopped: boolean;
  /** The checkpoint resumed from, if any. */
  resumedFrom?: string;
}

/** Where the data stream stands: enough to restart it at the same batch. */
interface DataPosition {
  epoch: number;
  batchInEpoch: number;
  dataStreamState: number;
}

/**
 * One training loop for every method: per step, the loss (task loss plus every method's
 * `regularization()`) is recorded and differentiated for the trainable parameters only, the
 * gradients are averaged over micro-batches, passed through each method's `transformGradients`
 * in order, clipped, applied by AdamW under the schedule, and then each `afterStep` hook runs.
 * `calibrate` hooks run once before the first step. Seeded: the same seed on the same backend
 * gives the same losses.
 *
 * @example
 * const trainer = new Trainer(peft(model, [lora({ r: 8 })]), { data, learningRate: 1e-3, maxSteps: 100 });
 * const result = await trainer.train();
 * trainer.dispose();
 */
export class Trainer {
  readonly target: TrainingTarget;
  readonly options: Readonly<TrainOptions>;
  private readonly parameters: Parameter[];
  private readonly parameterNames: string[];
  private readonly byVariableName: Map<string, Parameter>;
  private readonly methods: readonly AppliedMethod[];
  private readonly optimizer: Optimizer;
  private readonly seed: number;
  private readonly accumulation: number;
  readonly totalSteps: number;
  private readonly epochLimit: number;
  private readonly schedule: LearningRateSchedule;

  constructor(target: TrainingTarget, options: TrainOptions) {
    this.target = target;
    this.options = options;
    this.parameters = [...new Set(target.trainableParameters())];
    if (this.parameters.length === 0) invalidArgument('target.trainableParameters()', [], 'at least one trainable parameter');
    const frozen = this.parameters.find((parameter) => !parameter.trainable);
    if (frozen) invalidArgument('target.trainableParameters()', frozen.shape, 'only parameters whose trainable flag is set');
    this.parameterNames = trainableParameterNames(target, this.parameters);
    this.byVariableName = new Map(this.parameters.map((parameter) => [parameter.variable.name, parameter]));
    this.methods = target.appliedMethods();
    this.seed = options.seed ?? 42;
    this.accumulation = positiveInteger('gradientAccumulationSteps', options.gradientAccumulationSteps ?? 1);
    if (options.maxSteps !== undefined) positiveInteger('maxSteps', options.maxSteps);
    if (options.epochs !== undefined) positiveInteger('epochs', options.epochs);
    if (options.maxGradNorm != null && !(options.maxGradNorm > 0)) invalidArgument('maxGradNorm', options.maxGradNorm, 'a number > 0, or null for no clipping');
    if (options.checkpointEvery !== undefined) positiveInteger('checkpointEvery', options.checkpointEvery);
    if (options.evalEvery !== undefined && !(Number.isInteger(options.evalEvery) && options.evalEvery >= 0)) invalidArgument('evalEvery', options.evalEvery, 'an integer >= 0');
    if (options.resume === true && options.checkpointDir === undefined) invalidArgument('resume', true, 'a checkpoint path, or true together with checkpointDir');
    const data = options.data;
    if (typeof data === 'function') {
      if (options.maxSteps === undefined) invalidArgument('maxSteps', undefined, 'a step count when data is a function (its length is unknown)');
      this.totalSteps = options.maxSteps;
      this.epochLimit = options.epochs ?? Number.POSITIVE_INFINITY;
    } else {
      if (data.length === 0) invalidArgument('data', [], 'at least one batch');
      const epochs = options.epochs ?? 3;
      this.totalSteps = options.maxSteps ?? epochs * Math.ceil(data.length / this.accumulation);
      this.epochLimit = options.maxSteps !== undefined && options.epochs === undefined ? Number.POSITIVE_INFINITY : epochs;
    }
    const learningRate = options.learningRate ?? 5e-5;
    const warmupSteps = options.warmupSteps ?? Math.ceil((options.warmupRatio ?? 0) * this.totalSteps);
    this.schedule =
      typeof options.schedule === 'function'
        ? options.schedule
        : createSchedule(options.schedule ?? 'linear', { learningRate, warmupSteps, totalSteps: this.totalSteps });
    const settings: OptimizerSettings = {
      learningRate,
      weightDecay: options.weightDecay ?? 0,
      beta1: options.beta1,
      beta2: options.beta2,
      epsilon: options.epsilon ?? 1e-8,
      excludeFromWeightDecay: options.excludeFromWeightDecay,
      names: this.parameterNames,
    };
    this.optimizer = (options.optimizer ?? ((parameters, given) => new AdamW(parameters, given)))(this.parameters, settings);
  }

  /** Runs training to the end (or until aborted) and returns what happened. */
  async train(): Promise<TrainResult> {
    const options = this.options;
    setGlobalSeed(this.seed);
    const dataStream = new SeedStream(this.seed);
    const position: DataPosition = { epoch: 0, batchInEpoch: 0, dataStreamState: dataStream.getState() };
    const losses: number[] = [];
    const evaluations: TrainResult['evaluations'] = [];
    const resumePath = options.resume === true ? await latestCheckpoint(options.checkpointDir!) : options.resume || undefined;
    let step = 0;
    if (resumePath !== undefined) {
      const state = await this.restore(resumePath);
      step = state.step;
      losses.push(...state.losses);
      Object.assign(position, { epoch: state.epoch, batchInEpoch: state.batchInEpoch, dataStreamState: state.dataStreamState });
      globalSeeds().setState(state.globalSeedState);
    }
    this.emit({ type: 'start', step, totalSteps: this.totalSteps, ...(resumePath !== undefined ? { resumedFrom: resumePath } : {}) });
    if (resumePath === undefined) await this.calibrate(step);

    const previousMode = setTrainingMode(this.target.model, true);
    let stopped = options.signal?.aborted ?? false;
    let lastEvalStep = -1;
    let lastCheckpointStep = resumePath !== undefined ? step : -1;
    try {
      const finishStep = async (loss: number, learningRate: number, gradientNorm: number) => {
        step += 1;
        losses.push(loss);
        this.emit({ type: 'step', step, totalSteps: this.totalSteps, epoch: position.epoch, loss, learningRate, gradientNorm });
        if (options.evalData !== undefined && options.evalEvery && step % options.evalEvery === 0) {
          evaluations.push(this.evaluateAt(step));
          lastEvalStep = step;
        }
        if (options.checkpointDir !== undefined && step % (options.checkpointEvery ?? 500) === 0) {
          await this.saveCheckpoint(step, position, losses);
          lastCheckpointStep = step;
        }
        if (options.signal?.aborted) stopped = true;
      };

      while (step < this.totalSteps && position.epoch < this.epochLimit && !stopped) {
        const batches = this.epochBatches(position, dataStream);
        let group: Batch[] = [];
        let yielded = 0;
        try {
          for (const batch of batches.iterable) {
            yielded += 1;
            position.batchInEpoch += 1;
            group.push(batch);
            if (group.length < this.accumulation) continue;
            const done = this.optimizerStep(group, step);
            this.releaseBatches(group, batches.owned);
            group = [];
            await finishStep(done.loss, done.learningRate, done.gradientNorm);
            if (step >= this.totalSteps || stopped) break;
          }
          if (group.length > 0 && step < this.totalSteps && !stopped) {
            const done = this.optimizerStep(group, step);
            this.releaseBatches(group, batches.owned);
            group = [];
            await finishStep(done.loss, done.learningRate, done.gradientNorm);
          }
        } finally {
          this.releaseBatches(group, batches.owned);
        }
        if (step >= this.totalSteps || stopped) break;
        if (yielded === 0 && batches.skipped === 0) invalidArgument(`data(${position.epoch})`, [], 'at least one batch per epoch');
        position.epoch += 1;
        position.batchInEpoch = 0;
        position.dataStreamState = dataStream.getState();
      }

      if (!stopped && options.evalData !== undefined && lastEvalStep !== step) evaluations.push(this.evaluateAt(step));
      if (!stopped && options.checkpointDir !== undefined && lastCheckpointStep !== step) await this.saveCheckpoint(step, position, losses);
    } finally {
      if (previousMode !== undefined) setTrainingMode(this.target.model, previousMode);
    }
    this.emit({ type: 'end', step, totalSteps: this.totalSteps, stopped });
    return { step, totalSteps: this.totalSteps, losses, evaluations, stopped, ...(resumePath !== undefined ? { resumedFrom: resumePath } : {}) };
  }

  /** Evaluates the target on labelled batches (eval mode; see `evaluate`). */
  evaluate(data: BatchSource): Metrics {
    return evaluate(this.target, data);
  }

  /** Frees the optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
  }

  /** One optimizer step over a group of micro-batches; `done` is the number of steps before it. */
  private optimizerStep(group: readonly Batch[], done: number): { loss: number; learningRate: number; gradientNorm: number } {
    const stepNumber = done + 1;
    const variables = this.parameters.map((parameter) => parameter.variable);
    const accumulator = new GradientAccumulator<Parameter>();
    let gradients = new Map<Parameter, tf.Tensor>();
    try {
      let lossSum = 0;
      for (const batch of group) {
        const labels = batch.labels;
        if (!labels) invalidArgument('batch.labels', undefined, 'labels on every training batch');
        const loss = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => this.loss(batch, labels), variables);
          accumulator.add(new Map(Object.entries(grads).map(([name, gradient]) => [this.byVariableName.get(name)!, gradient])));
          return value.dataSync()[0]!;
        });
        if (!Number.isFinite(loss)) {
          throw new PeftError('non-finite-loss', `The training loss is ${loss} at step ${stepNumber}; stopping before the update.`, {
            field: `step ${stepNumber} loss`,
            value: loss,
            allowed: 'a finite number (lower the learning rate, enable clipping, or check the data)',
          });
        }
        lossSum += loss;
      }
      gradients = accumulator.mean();
      for (const method of this.methods) {
        if (!method.transformGradients) continue;
        const current = gradients;
        let transformed = current;
        tf.tidy(() => {
          transformed = method.transformGradients!(current);
          for (const gradient of transformed.values()) tf.keep(gradient);
        });
        disposeReplaced(current, transformed);
        gradients = transformed;
      }
      let gradientNorm: number;
      if (this.options.maxGradNorm === null) {
        gradientNorm = globalNorm(gradients.values());
      } else {
        const clipped = clipByGlobalNorm(gradients, this.options.maxGradNorm ?? 1);
        disposeReplaced(gradients, clipped.gradients);
        gradients = clipped.gradients;
        gradientNorm = clipped.norm;
      }
      const learningRate = this.schedule(done);
      this.optimizer.learningRate = learningRate;
      this.optimizer.step(gradients);
      const info: StepInfo = { step: stepNumber, totalSteps: this.totalSteps, gradients };
      for (const method of this.methods) method.afterStep?.(info);
      return { loss: lossSum / group.length, learningRate, gradientNorm };
    } finally {
      accumulator.reset();
      tf.dispose([...gradients.values()]);
    }
  }

  /** The recorded loss: the task loss plus every method's regularization term. */
  private loss(batch: Batch, labels: tf.Tensor): tf.Scalar {
    const model = this.target.model;
    let loss = model.taskLoss(model.forward(batch), labels, batch.attentionMask);
    for (const method of this.methods) if (method.regularization) loss = tf.add(loss, method.regularization());
    return loss;
  }

  /** The micro-batches of the position's epoch from the position's batch on. */
  private epochBatches(position: DataPosition, dataStream: SeedStream): { iterable: Iterable<Batch>; owned: boolean; skipped: number } {
    const data = this.options.data;
    const skip = position.batchInEpoch;
    dataStream.setState(position.dataStreamState);
    if (typeof data !== 'function') {
      const order = this.options.shuffle === false ? data.map((_, i) => i) : shuffledIndices(data.length, dataStream);
      return { iterable: order.slice(skip).map((i) => data[i]!), owned: false, skipped: skip };
    }
    const iterator = data(position.epoch)[Symbol.iterator]();
    let skipped = 0;
    while (skipped < skip) {
      const next = iterator.next();
      if (next.done) break;
      disposeBatch(next.value);
      skipped += 1;
    }
    return { iterable: { [Symbol.iterator]: () => iterator }, owned: true, skipped };
  }

  private releaseBatches(batches: readonly Batch[], owned: boolean): void {
    if (owned) for (const batch of batches) disposeBatch(batch);
  }

  /** Runs the methods' calibrate hooks (eval mode) on the first batches of the data. */
  private async calibrate(step: number): Promise<void> {
    const methods = this.methods.filter((method) => method.calibrate);
    if (methods.length === 0) return;
    const count = this.options.calibrationBatches ?? 8;
    const data = this.options.data;
    const batches: Batch[] = [];
    if (typeof data === 'function') {
      const iterator = data(0)[Symbol.iterator]();
      while (batches.length < count) {
        const next = iterator.next();
        if (next.done) break;
        batches.push(next.value);
      }
    } else {
      batches.push(...data.slice(0, count));
    }
    const model = this.target.model;
    const context: CalibrationContext = {
      batches,
      loss: (batch) => {
        if (!batch.labels) invalidArgument('batch.labels', undefined, 'labels on calibration batches');
        return model.taskLoss(model.forward(batch), batch.labels, batch.attentionMask);
      },
      forward: (batch) => model.forward(batch),
    };
    const previousMode = setTrainingMode(model, false);
    try {
      this.emit({ type: 'calibrate', step, batches: batches.length, methods: methods.map((method) => method.name) });
      for (const method of methods) await method.calibrate!(context);
    } finally {
      if (previousMode !== undefined) setTrainingMode(model, previousMode);
      this.releaseBatches(batches, typeof data === 'function');
    }
  }

  private evaluateAt(step: number): { step: number; metrics: Metrics } {
    const metrics = evaluate(this.target, this.options.evalData!);
    this.emit({ type: 'eval', step, metrics });
    return { step, metrics };
  }

  private async saveCheckpoint(step: number, position: DataPosition, losses: number[]): Promise<void> {
    const state: TrainerState = {
      formatVersion: 1,
      step,
      totalSteps: this.totalSteps,
      seed: this.seed,
      ...position,
      globalSeedState: globalSeeds().getState(),
      parameterNames: this.parameterNames,
      optimizerSteps: {},
      methods: this.methods.map((method) => method.name),
      losses,
    };
    const parameters = Object.fromEntries(this.parameters.map((parameter, i) => [this.parameterNames[i]!, parameter.value]));
    const path = await saveTrainingCheckpoint(
      this.options.checkpointDir!,
      { state, parameters, optimizer: this.optimizer.state(), methodStates: this.methods.map((method) => method.state()) },
      this.options.keepCheckpoints,
    );
    this.emit({ type: 'checkpoint', step, path });
  }

  /** Loads a checkpoint into the parameters, the optimizer and the methods; returns its trainer state. */
  private async restore(path: string): Promise<TrainerState> {
    const checkpoint = await loadTrainingCheckpoint(path);
    try {
      const { state } = checkpoint;
      const mismatch = (what: string, value: unknown, allowed: string | readonly string[]) =>
        new PeftError('checkpoint-mismatch', `Cannot resume from ${path}: ${what}.`, { field: 'checkpoint', value, allowed });
      if (state.parameterNames.join('\n') !== this.parameterNames.join('\n')) throw mismatch('it trained other parameters', state.parameterNames, this.parameterNames);
      if (state.methods.join('\n') !== this.methods.map((method) => method.name).join('\n')) throw mismatch('it was made with other methods', state.methods, this.methods.map((method) => method.name));
      this.parameters.forEach((parameter, i) => {
        const value = checkpoint.parameters[this.parameterNames[i]!];
        if (!value || !tf.util.arraysEqual(value.shape, parameter.shape)) throw mismatch(`parameter "${this.parameterNames[i]}" is missing or has another shape`, value?.shape, `[${parameter.shape.join(', ')}]`);
      });
      this.methods.forEach((method, i) => method.load(checkpoint.methodStates[i] ?? {}));
      this.parameters.forEach((parameter, i) => parameter.assign(checkpoint.parameters[this.parameterNames[i]!]!));
      this.optimizer.load(checkpoint.optimizer);
      return state;
    } finally {
      tf.dispose([...Object.values(checkpoint.parameters), ...Object.values(checkpoint.optimizer.tensors), ...checkpoint.methodStates.flatMap((s) => Object.values(s))]);
    }
  }

  private emit(event: TrainEvent): void {
    this.options.onEvent?.(event);
  }
}

/**
 * Trains a target and frees the optimizer afterwards.
 *
 * @example
 * const result = await train(fullFineTuning(model), { data: exampleBatches(examples, { batchSize: 16 }), maxSteps: 200, learningRate: 2e-5 });
 */
export async function train(target: TrainingTarget, options: TrainOptions): Promise<TrainResult> {
  const trainer = new Trainer(target, options);
  try {
    return await trainer.train();
  } finally {
    trainer.dispose();
  }
}

function positiveInteger(field: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0)) invalidArgument(field, value, 'an integer > 0');
  return value;
}

/** Disposes the tensors of `before` that `after` no longer holds. */
function disposeReplaced(before: ReadonlyMap<Parameter, tf.Tensor>, after: ReadonlyMap<Parameter, tf.Tensor>): void {
  const kept = new Set(after.values());
  for (const tensor of before.values()) if (!kept.has(tensor)) tensor.dispose();
}
