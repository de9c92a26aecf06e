import { defaultRegistry, initBackend, type BackendPreference, type MethodRegistry } from '@peftjs/core';
import { BENCH_RESULTS_SCHEMA_VERSION, FULL_FINE_TUNING, type BenchResults, type BenchRun } from '../report/results';
import { writeReport } from '../report/write-report';
import { buildTaskCard } from '../tasks/task-card';
import type { BenchTask } from '../tasks/task';
import { scratchBackbone, type BackboneProvider } from './backbone';
import { backendInfo, machineInfo, packageVersions } from './environment';
import { memorySweep } from './memory-sweep';
import { learningRateOf, resolveMethodRuns, type LearningRates, type MethodRunInput, type MethodRunSpec } from './method-spec';
import { prepareTask } from './prepare-task';
import { runMethod } from './run-method';

/** What happens during a comparison, in order, for progress bars and logs. */
export type CompareProgressEvent =
  | { type: 'prepare'; message: string }
  | { type: 'run-start'; method: string; seed: number; run: number; runs: number; steps: number }
  | { type: 'step'; method: string; seed: number; step: number; totalSteps: number; loss: number }
  | { type: 'run-end'; run: BenchRun }
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
}

export interface CompareMethodsResult {
  results: BenchResults;
  /** Files written by writeReport (empty without outDir). */
  files: string[];
}

/**
 * Fine-tunes each method with each seed on the same backbone and task, measures every run with
 * core's meters and returns the results in the report's schema (optionally writing the report).
 * Full fine-tuning always runs in the same process, so the ratios of the report compare runs of
 * one backend and machine. Seeds are the outer loop, so slow drift of the machine spreads over
 * all methods instead of favouring the first.
 */
export async function compareMethods(options: CompareMethodsOptions): Promise<CompareMethodsResult> {
  if (options.backend !== undefined) await initBackend({ prefer: options.backend });
  const emit = options.onProgress ?? (() => {});
  const registry = options.registry ?? defaultRegistry;
  const resolved = resolveMethodRuns(options.methods, registry);
  const runs: MethodRunSpec[] = resolved.some((run) => run.name === FULL_FINE_TUNING) ? resolved : [{ name: FULL_FINE_TUNING, configs: [] }, ...resolved];
  const seeds = typeof options.seeds === 'number' ? Array.from({ length: options.seeds }, (_, i) => i + 1) : [...options.seeds];
  const provider = options.backbone ?? scratchBackbone();

  emit({ type: 'prepare', message: `preparing ${provider.name} and tokenizing ${options.task.name}` });
  const prepared = await prepareTask(options.task, provider);
  const probe = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: seeds[0] ?? 1 });
  const modelParameters = probe.parameters().reduce((count, parameter) => count + parameter.size, 0);
  probe.dispose();

  const learningRates: LearningRates = { ...prepared.backbone.learningRates, ...options.learningRates };
  // An untimed warm-up run, so the first measured run does not pay for the first compilation of kernels and code paths.
  emit({ type: 'prepare', message: 'warming up' });
  const warmupModel = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: seeds[0] ?? 1 });
  await runMethod(warmupModel, runs[0]!, { train: prepared.examples.train, test: prepared.examples.test.slice(0, 2 * options.batchSize) }, {
    steps: 2,
    batchSize: options.batchSize,
    learningRate: learningRateOf(runs[0]!, learningRates),
    seed: seeds[0] ?? 1,
    inferenceBatches: 2,
  });
  const benchRuns: BenchRun[] = [];
  const total = runs.length * seeds.length;
  for (const seed of seeds) {
    for (const run of runs) {
      emit({ type: 'run-start', method: run.name, seed, run: benchRuns.length + 1, runs: total, steps: options.steps });
      const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed });
      const measured = await runMethod(
        model,
        run,
        { train: prepared.examples.train, test: prepared.examples.test },
        {
          steps: options.steps,
          batchSize: options.batchSize,
          learningRate: learningRateOf(run, learningRates),
          seed,
          onStep: (step, totalSteps, loss) => emit({ type: 'step', method: run.name, seed, step, totalSteps, loss }),
        },
      );
      const benchRun: BenchRun = {
        method: run.name,
        methodConfigs: run.configs.map(({ method, config }) => ({ name: method.name, config: { ...(config as Record<string, unknown>) } })),
        seed,
        ...measured,
      };
      benchRuns.push(benchRun);
      emit({ type: 'run-end', run: benchRun });
    }
  }

  const sweep = options.memoryBatchSizes?.length
    ? await memorySweep({
        methods: runs,
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
      ...(sweep?.stopped.length ? { memorySweepStopped: sweep.stopped } : {}),
      ...options.notes,
    },
    runs: benchRuns,
    ...(sweep ? { memorySweep: sweep.points } : {}),
  };
  const files = options.outDir === undefined ? [] : await writeReport(options.outDir, results, { taskCard: buildTaskCard(options.task) });
  if (files.length) emit({ type: 'report', files });
  return { results, files };
}
