import { defaultRegistry, initBackend, type BackendPreference, type MethodRegistry } from '@peftjs/core';
import { BACKEND_PREFERENCES, PeftError, tf } from '@peftjs/core';
import { BENCH_RESULTS_SCHEMA_VERSION, FULL_FINE_TUNING, type BenchResults, type BenchRun, type FailedRun } from '../report/results';
import { writeReport } from '../report/write-report';
import { buildTaskCard } from '../tasks/task-card';
import type { BenchTask } from '../tasks/task';
import { scratchBackbone, type BackboneProvider } from './backbone';
import { backendInfo, machineInfo, packageVersions } from './environment';
import { memorySweep } from './memory-sweep';
import { learningRateOf, resolveMethodName, resolveMethodRuns, type LearningRates, type MethodRunInput, type MethodRunSpec } from './method-spec';
import type { PoolJob } from './pool-protocol';
import { runPool, serializeRunSpec } from './run-pool';
import { prepareTask } from './prepare-task';
import { runMethod, type RunMeasurement, type RunSettings } from './run-method';

/** What happens during a comparison, in order, for progress bars and logs. */
export type CompareProgressEvent =
  | { type: 'prepare'; message: string }
  | { type: 'run-start'; method: string; seed: number; run: number; runs: number; steps: number }
  | { type: 'step'; method: string; seed: number; step: number; totalSteps: number; loss: number }
  | { type: 'run-end'; run: BenchRun }
  | { type: 'run-failed'; failed: FailedRun; run: number; runs: number }
  | { type: 'throughput'; method: string; trainTokensPerSecond: number; inferenceTokensPerSecond: number }
  | { type: 'memory-point'; method: string; batch: number; peakBytes: number }
  | { type: 'report'; files: string[] };

export interface CompareMethodsOptions {
  task: BenchTask;
  /** Method names from the registry (`full` is built in) or explicit compositions. Full fine-tuning is added first when missing. */
  methods: readonly MethodRunInput[];
  /** Seeds to run, or how many (1, 2, ... n). */
  seeds: number | readonly number[];
  steps: number;
  batchSize: number;
  /** Learning rate per run kind, over the backbone's own and DEFAULT_LEARNING_RATES. */
  learningRates?: LearningRates;
  /** Default: a scratch BERT sized for small CPUs. */
  backbone?: BackboneProvider;
  /** Switch to this backend first (initBackend); default: the current one. */
  backend?: BackendPreference;
  registry?: MethodRegistry;
  /** Also sweep peak memory over these batch sizes (one step each). */
  memoryBatchSizes?: readonly number[];
  /** Write the report (results.json, charts, report.md) here. */
  outDir?: string;
  /** Extra settings recorded under `training` (e.g. how the task was subset). */
  notes?: Record<string, unknown>;
  onProgress?: (event: CompareProgressEvent) => void;
  /**
   * Worker processes for the training runs (default 1: all in this process). With more, runs go to
   * a pool (run-pool.ts) and throughput is measured afterwards one method at a time in this process
   * with nothing beside it; peak memory counts each process's own tensors, so it is measured in the
   * pooled runs. Needs a backbone with a recipe and methods the workers' registry has (the default
   * registry with the installed families, plus `workerModules`).
   */
  jobs?: number;
  /** Modules each worker imports before running (e.g. one that registers your own methods or hybrids). */
  workerModules?: readonly string[];
  /** Record a failing run (and a name that does not resolve) in `failedRuns` and go on, instead of throwing. */
  continueOnError?: boolean;
  /** Score the validation split this many times during each run, for the report's eval curves. Default 4; 0 for none. */
  evalPoints?: number;
}

export interface CompareMethodsResult {
  results: BenchResults;
  /** Files written by writeReport (empty without outDir). */
  files: string[];
}

/**
 * Fine-tunes each method with each seed on the same backbone and task, measures every run with
 * core's meters and returns the results in the report's schema (optionally writing the report).
 * Full fine-tuning always runs in the same comparison, so the ratios of the report compare runs of
 * one backend and machine. Seeds are the outer loop, so slow drift of the machine spreads over
 * all methods instead of favouring the first. With `jobs` > 1 the runs train in worker processes
 * and their results are merged in run order; throughput is then measured one run at a time.
 */
export async function compareMethods(options: CompareMethodsOptions): Promise<CompareMethodsResult> {
  if (options.backend !== undefined) await initBackend({ prefer: options.backend });
  const emit = options.onProgress ?? (() => {});
  const registry = options.registry ?? defaultRegistry;
  const failedRuns: FailedRun[] = [];
  const seeds = typeof options.seeds === 'number' ? Array.from({ length: options.seeds }, (_, i) => i + 1) : [...options.seeds];
  const resolved = options.continueOnError ? resolveEach(options.methods, registry, seeds, failedRuns) : resolveMethodRuns(options.methods, registry);
  const runs: MethodRunSpec[] = resolved.some((run) => run.name === FULL_FINE_TUNING) ? resolved : [{ name: FULL_FINE_TUNING, configs: [] }, ...resolved];
  const provider = options.backbone ?? scratchBackbone();
  const jobs = Math.max(1, Math.min(options.jobs ?? 1, runs.length * seeds.length));

  emit({ type: 'prepare', message: `preparing ${provider.name} and tokenizing ${options.task.name}` });
  const prepared = await prepareTask(options.task, provider);
  if (jobs > 1 && prepared.backbone.recipe === undefined) {
    throw new PeftError('invalid-argument', `Invalid jobs: ${jobs}; the backbone "${prepared.backbone.name}" cannot be rebuilt in a worker process (no recipe).`, { field: 'jobs', value: jobs, allowed: '1 for this backbone' });
  }
  if (jobs > 1 && registry !== defaultRegistry && !options.workerModules?.length) {
    throw new PeftError('invalid-argument', `Invalid jobs: ${jobs}; worker processes look methods up in the default registry, not in the registry given here.`, {
      field: 'jobs',
      value: jobs,
      allowed: '1, or workerModules that register the methods in each worker',
    });
  }
  const probe = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: seeds[0] ?? 1 });
  const modelParameters = probe.parameters().reduce((count, parameter) => count + parameter.size, 0);
  probe.dispose();

  const learningRates: LearningRates = { ...prepared.backbone.learningRates, ...options.learningRates };
  const evalPoints = options.evalPoints ?? 4;
  const settingsOf = (run: MethodRunSpec, seed: number): RunSettings => ({
    steps: options.steps,
    batchSize: options.batchSize,
    learningRate: learningRateOf(run, learningRates),
    seed,
    evalMetric: options.task.metric,
    ...(evalPoints > 0 ? { evalEvery: Math.max(1, Math.ceil(options.steps / evalPoints)) } : {}),
  });
  const data = { train: prepared.examples.train, test: prepared.examples.test, validation: prepared.examples.validation };
  const warmUp = async () => {
    // An untimed warm-up run, so the first measured run does not pay for the first compilation of kernels and code paths.
    emit({ type: 'prepare', message: 'warming up' });
    const warmupModel = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: seeds[0] ?? 1 });
    await runMethod(warmupModel, runs[0]!, { train: data.train, test: data.test.slice(0, 2 * options.batchSize) }, { ...settingsOf(runs[0]!, seeds[0] ?? 1), steps: 2, inferenceBatches: 2, evalEvery: 0 });
  };

  const order = seeds.flatMap((seed) => runs.map((run) => ({ run, seed })));
  const total = order.length;
  const measured: Array<RunMeasurement | undefined> = [];
  const fail = (index: number, error: { message: string; code?: string }) => {
    const { run, seed } = order[index]!;
    const failed: FailedRun = { method: run.name, seed, message: error.message, ...(error.code ? { code: error.code } : {}) };
    if (!options.continueOnError) throw new PeftError((error.code as never) ?? 'invalid-argument', `Run ${run.name} (seed ${seed}) failed: ${error.message}`, { field: 'methods', value: run.name, allowed: 'a run that completes' });
    failedRuns.push(failed);
    emit({ type: 'run-failed', failed, run: index + 1, runs: total });
  };

  if (jobs === 1) {
    await warmUp();
    for (const [index, { run, seed }] of order.entries()) {
      emit({ type: 'run-start', method: run.name, seed, run: index + 1, runs: total, steps: options.steps });
      try {
        const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed });
        measured[index] = await runMethod(model, run, data, {
          ...settingsOf(run, seed),
          onStep: (step, totalSteps, loss) => emit({ type: 'step', method: run.name, seed, step, totalSteps, loss }),
        });
        emit({ type: 'run-end', run: benchRunOf(run, seed, measured[index]!) });
      } catch (error) {
        if (!options.continueOnError) throw error;
        fail(index, errorInfo(error));
      }
    }
  } else {
    emit({ type: 'prepare', message: `training ${total} runs in ${jobs} worker processes` });
    const poolJobs: PoolJob[] = order.map(({ run, seed }, id) => {
      const { onStep: _onStep, ...settings } = settingsOf(run, seed);
      return { id, spec: serializeRunSpec(run), ...settings };
    });
    const outcomes = await runPool(poolJobs, {
      jobs,
      setup: {
        backend: options.backend ?? currentBackendPreference(),
        recipe: prepared.backbone.recipe!,
        modelTask: prepared.modelTask,
        numLabels: prepared.numLabels,
        train: data.train,
        test: data.test,
        validation: data.validation,
        workerModules: options.workerModules ?? [],
      },
      onStart: (id) => emit({ type: 'run-start', method: order[id]!.run.name, seed: order[id]!.seed, run: id + 1, runs: total, steps: options.steps }),
      onStep: (id, step, totalSteps, loss) => emit({ type: 'step', method: order[id]!.run.name, seed: order[id]!.seed, step, totalSteps, loss }),
      onEnd: (outcome) => {
        if ('measurement' in outcome) emit({ type: 'run-end', run: benchRunOf(order[outcome.id]!.run, order[outcome.id]!.seed, outcome.measurement) });
      },
    });
    for (const outcome of outcomes) {
      if ('measurement' in outcome) measured[outcome.id] = outcome.measurement;
      else fail(outcome.id, outcome.error);
    }
    // Throughput is timed here, one run at a time with nothing beside it: the pooled runs shared the cores.
    await warmUp();
    const timingSteps = Math.min(options.steps, THROUGHPUT_STEPS);
    for (const run of runs) {
      const indexes = order.flatMap((entry, i) => (entry.run === run && measured[i] ? [i] : []));
      if (indexes.length === 0) continue;
      const seed = order[indexes[0]!]!.seed;
      const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed });
      const timing = await runMethod(model, run, { train: data.train, test: data.test }, { ...settingsOf(run, seed), steps: timingSteps, evalEvery: 0 });
      for (const i of indexes) measured[i] = { ...measured[i]!, trainTokensPerSecond: timing.trainTokensPerSecond, inferenceTokensPerSecond: timing.inferenceTokensPerSecond };
      emit({ type: 'throughput', method: run.name, trainTokensPerSecond: timing.trainTokensPerSecond, inferenceTokensPerSecond: timing.inferenceTokensPerSecond });
    }
  }
  const benchRuns: BenchRun[] = order.flatMap(({ run, seed }, i) => (measured[i] ? [benchRunOf(run, seed, measured[i]!)] : []));
  if (benchRuns.length === 0) {
    throw new PeftError('invalid-argument', `Every run failed; the first: ${failedRuns[0]?.method} (${failedRuns[0]?.message}).`, { field: 'methods', value: failedRuns.map((run) => run.method), allowed: 'at least one run that completes' });
  }

  const completed = runs.filter((run) => benchRuns.some((benchRun) => benchRun.method === run.name));
  const sweep = options.memoryBatchSizes?.length
    ? await memorySweep({
        methods: completed,
        batchSizes: options.memoryBatchSizes,
        task: prepared,
        registry,
        onPoint: (point) => emit({ type: 'memory-point', ...point }),
      })
    : undefined;

  const results: BenchResults = {
    schemaVersion: BENCH_RESULTS_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    backend: backendInfo(),
    machine: machineInfo(),
    versions: packageVersions(),
    task: {
      name: options.task.name,
      type: options.task.type,
      metric: options.task.metric,
      sizes: { train: options.task.train.length, validation: options.task.validation.length, test: options.task.test.length },
    },
    model: { name: prepared.backbone.name, config: prepared.backbone.config, parameters: modelParameters },
    training: {
      steps: options.steps,
      batchSize: options.batchSize,
      maxLength: prepared.backbone.maxLength,
      seeds,
      optimizer: 'AdamW (weight decay 0), linear schedule, warmup 6%, gradient clipping 1.0',
      learningRates: Object.fromEntries(runs.map((run) => [run.name, learningRateOf(run, learningRates)])),
      jobs,
      ...(jobs > 1
        ? {
            throughputMeasurement: `runs trained in ${jobs} worker processes (one thread each); train and inference throughput measured afterwards one method at a time in the main process with nothing beside it (${Math.min(options.steps, THROUGHPUT_STEPS)} steps, first seed, the first step excluded); peak memory counts each process's own tensors, so the pooled runs measure it`,
          }
        : {}),
      ...(sweep?.stopped.length ? { memorySweepStopped: sweep.stopped } : {}),
      ...options.notes,
    },
    runs: benchRuns,
    ...(failedRuns.length ? { failedRuns } : {}),
    ...(sweep ? { memorySweep: sweep.points } : {}),
  };
  const files = options.outDir === undefined ? [] : await writeReport(options.outDir, results, { taskCard: buildTaskCard(options.task) });
  if (files.length) emit({ type: 'report', files });
  return { results, files };
}

/** Optimizer steps of the one-at-a-time throughput run per method after a pooled comparison. */
export const THROUGHPUT_STEPS = 10;

function benchRunOf(run: MethodRunSpec, seed: number, measurement: RunMeasurement): BenchRun {
  return {
    method: run.name,
    methodConfigs: run.configs.map(({ method, config }) => ({ name: method.name, config: { ...(config as Record<string, unknown>) } })),
    family: run.configs.length === 0 ? FULL_FINE_TUNING : run.configs.length > 1 ? 'hybrid' : run.configs[0]!.method.packageName,
    seed,
    ...measurement,
  };
}

/** Resolves each name alone; one that does not resolve becomes a failed run of every seed. */
function resolveEach(inputs: readonly MethodRunInput[], registry: MethodRegistry, seeds: readonly number[], failed: FailedRun[]): MethodRunSpec[] {
  const runs: MethodRunSpec[] = [];
  for (const input of inputs) {
    if (typeof input !== 'string') {
      runs.push(input);
      continue;
    }
    try {
      runs.push(resolveMethodName(input, registry));
    } catch (error) {
      const info = errorInfo(error);
      for (const seed of seeds) failed.push({ method: input, seed, message: info.message, ...(info.code ? { code: info.code } : {}) });
    }
  }
  return resolveMethodRuns(runs, registry);
}

function errorInfo(error: unknown): { message: string; code?: string } {
  if (PeftError.isInstance(error)) return { message: error.message, code: error.code };
  return { message: error instanceof Error ? error.message : String(error) };
}

/** The backend running now, as a preference the workers can ask for (they then run the same kernels). */
function currentBackendPreference(): BackendPreference {
  const name = tf.getBackend();
  return (BACKEND_PREFERENCES as readonly string[]).includes(name) ? (name as BackendPreference) : 'auto';
}
