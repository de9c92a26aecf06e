import {
  BaseSnapshot,
  measurePeakMemoryAsync,
  ThroughputMeter,
  batchExamples,
  collateExamples,
  disposeBatch,
  evaluate,
  fullFineTuning,
  peft,
  safetensorsFileBytes,
  SeedStream,
  shuffledIndices,
  tf,
  train,
  type Batch,
  type BertModel,
  type Example,
  type Parameter,
  type TrainEvent,
  type TrainingTarget,
} from '@peftjs/core';
import { partParameterReport } from '../hybrids/part-report';
import type { BenchRun } from '../report/results';
import type { MethodRunSpec } from './method-spec';

/** Settings of one training run. */
export interface RunSettings {
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Test batches timed for inference throughput (the first is warm-up). Default 16. */
  inferenceBatches?: number;
  /** Called after every optimizer step. */
  onStep?: (step: number, totalSteps: number, loss: number) => void;
  /** Score the validation split every N steps (and at the end) into the run's evalCurve. Default: never. */
  evalEvery?: number;
  /** The metric the evalCurve records (the task's). Default 'accuracy'. */
  evalMetric?: string;
}

/** Splits of tokenized examples a run trains and scores on. */
export interface RunData {
  train: readonly Example[];
  test: readonly Example[];
  /** Scored during training when `evalEvery` is set. */
  validation?: readonly Example[];
}

/** A run's measurements before they are written as a BenchRun. */
export type RunMeasurement = Omit<BenchRun, 'method' | 'methodConfigs' | 'seed'>;

/**
 * Trains one method (or full fine-tuning) on a fresh model and measures it:
 * - peak memory: highest live tensor bytes during training minus those resident before it
 *   (the frozen model and its inputs), so activations, gradients and the optimizer's moments count;
 * - train throughput: non-padding tokens per second of optimizer steps, the first excluded;
 * - inference throughput: tokens per second of eval-mode forward passes over test batches, the
 *   first excluded, methods not merged;
 * - the parameter report (trainable, changed, adapter bytes) and the test-split metrics.
 * The model is disposed at the end.
 */
export async function runMethod(model: BertModel, method: MethodRunSpec, data: RunData, settings: RunSettings): Promise<RunMeasurement> {
  const started = performance.now();
  const full = method.configs.length === 0;
  const snapshot = full ? new BaseSnapshot(model.parameters()) : undefined;
  const tuned = full ? undefined : peft(model, method.configs);
  const target: TrainingTarget = tuned ?? fullFineTuning(model);
  try {
    const totalParameters = (tuned?.allParameters() ?? model.parameters()).reduce((count, parameter) => count + parameter.size, 0);
    const trainable = target.trainableParameters().reduce((count, parameter) => count + parameter.size, 0);
    const throughput = new ThroughputMeter({ warmupSteps: 1 });
    let lastBatchTokens = 0;
    let lastStepEnd = 0;
    const onEvent = (event: TrainEvent) => {
      if (event.type === 'start' || event.type === 'calibrate') lastStepEnd = performance.now();
      if (event.type !== 'step') return;
      const now = performance.now();
      throughput.record(lastBatchTokens, now - lastStepEnd);
      lastStepEnd = now;
      settings.onStep?.(event.step, event.totalSteps, event.loss);
    };
    const batches = (epoch: number): Iterable<Batch> =>
      shuffledBatches(data.train, settings.batchSize, settings.seed, epoch, (tokens) => {
        lastBatchTokens = tokens;
      });
    const evaluating = settings.evalEvery !== undefined && settings.evalEvery > 0 && (data.validation?.length ?? 0) > 0;
    const evalBatches = evaluating ? batchExamples(data.validation!, { batchSize: settings.batchSize }) : undefined;
    const { result, peakBytes } = await measurePeakMemoryAsync(() =>
      train(target, {
        data: batches,
        maxSteps: settings.steps,
        learningRate: settings.learningRate,
        seed: settings.seed,
        warmupRatio: 0.06,
        onEvent,
        ...(evalBatches ? { evalData: evalBatches, evalEvery: settings.evalEvery } : {}),
      }),
    ).finally(() => evalBatches?.forEach(disposeBatch));
    const metric = settings.evalMetric ?? 'accuracy';
    const score = scoreOn(target, data.test, settings.batchSize);
    const inferenceTokensPerSecond = inferenceThroughput(model, data.test, settings.batchSize, settings.inferenceBatches ?? 16);
    const report = tuned?.report();
    const changedParameters = report ? (report.changed ?? null) : model.parameters().reduce((count, parameter) => count + snapshot!.changedEntries(parameter), 0);
    const adapterBytes = report ? report.adapterBytes : safetensorsFileBytes(namedTensors(model.namedParameters()));
    const trainReading = throughput.reading();
    return {
      score,
      trainableParameters: report?.trainable ?? trainable,
      changedParameters,
      totalParameters: report?.total ?? totalParameters,
      peakMemoryBytes: Math.max(0, Math.round(peakBytes)),
      trainTokensPerSecond: trainReading.tokensPerSecond,
      inferenceTokensPerSecond,
      adapterBytes,
      steps: result.step,
      wallSeconds: (performance.now() - started) / 1000,
      lossCurve: result.losses.map((loss, i) => ({ step: i + 1, loss })),
      ...(evaluating ? { evalCurve: result.evaluations.filter((e) => Number.isFinite(e.metrics[metric])).map((e) => ({ step: e.step, score: e.metrics[metric]! })) } : {}),
      ...(tuned && method.configs.length > 1
        ? { parts: partParameterReport(tuned).map((part) => ({ name: part.name, packageName: part.packageName, trainableParameters: part.trainable, changedParameters: part.changed ?? null })) }
        : {}),
    };
  } finally {
    const parameters = new Set<Parameter>([...model.parameters(), ...(tuned?.allParameters() ?? [])]);
    for (const parameter of parameters) parameter.dispose();
  }
}

/** Batches of one epoch in a seeded order; reports each batch's non-padding tokens as it is made. The same seed and epoch give the same batches, so a resumed run sees the data it would have. */
export function* shuffledBatches(examples: readonly Example[], batchSize: number, seed: number, epoch: number, onTokens: (tokens: number) => void): Iterable<Batch> {
  const order = shuffledIndices(examples.length, new SeedStream((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0));
  for (let start = 0; start < order.length; start += batchSize) {
    const chosen = order.slice(start, start + batchSize).map((i) => examples[i]!);
    onTokens(chosen.reduce((count, example) => count + example.inputIds.length, 0));
    yield collateExamples(chosen);
  }
}

/** Test metrics (loss left out): accuracy, f1, matthews, ... as core's evaluate computes them. */
function scoreOn(target: TrainingTarget, test: readonly Example[], batchSize: number): Record<string, number> {
  const batches = batchExamples(test, { batchSize });
  try {
    const { loss: _loss, ...metrics } = evaluate(target, batches);
    return metrics;
  } finally {
    batches.forEach(disposeBatch);
  }
}

/**
 * Tokens per second of eval-mode forward passes (logits read back), the first pass excluded.
 * Times up to `batchCount` test batches, cycling over them when the split has fewer than two.
 */
function inferenceThroughput(model: BertModel, test: readonly Example[], batchSize: number, batchCount: number): number {
  const meter = new ThroughputMeter({ warmupSteps: 1 });
  const batches = batchExamples(
    test.slice(0, batchCount * batchSize).map(({ inputIds, tokenTypeIds }) => ({ inputIds, tokenTypeIds })),
    { batchSize },
  );
  const tokens = batches.map((_, i) => test.slice(i * batchSize, (i + 1) * batchSize).reduce((count, example) => count + example.inputIds.length, 0));
  const wasTraining = model.training;
  model.eval();
  try {
    for (let pass = 0; pass < Math.max(2, batches.length); pass += 1) {
      const index = pass % batches.length;
      meter.step(tokens[index]!, () => {
        const logits = tf.tidy(() => model.forward(batches[index]!).logits);
        logits.dataSync();
        logits.dispose();
      });
    }
  } finally {
    model.train(wasTraining);
    batches.forEach(disposeBatch);
  }
  return meter.reading().tokensPerSecond;
}

function namedTensors(named: ReadonlyArray<[string, Parameter]>): Record<string, tf.Tensor> {
  return Object.fromEntries(named.map(([path, parameter]) => [path, parameter.value]));
}
