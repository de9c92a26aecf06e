import { join, resolve } from 'node:path';
import { PeftError, defaultRegistry, initBackend, invalidArgument, type BackendPreference, type MethodRegistry } from '@peftjs/core';
import { formatComparisonText } from '../report/table';
import { compareMethods, type CompareMethodsResult } from '../runner/compare-methods';
import { resolveMethodRuns, type LearningRates } from '../runner/method-spec';
import { findTask, subsetTask } from '../runner/task-catalog';
import { loadCustomTask } from '../tasks/custom-task';
import type { BenchTask } from '../tasks/task';
import { backboneFor } from './backbone-option';
import type { CliIo } from './cli-io';
import { DEFAULT_METHODS, DEFAULT_PRESET, DEFAULT_TASK, SMOKE_PRESET, type ComparePreset } from './presets';
import { progressReporter } from './progress';
import { listMethods } from '../runner/method-discovery';
import { defaultJobs } from '../runner/run-pool';
import { SUITES } from './presets';

/** The parsed options of `peftjs compare`. */
export interface CompareCommandOptions {
  task?: string;
  methods?: string[];
  seeds?: number;
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  fullLearningRate?: number;
  backend: BackendPreference;
  model?: string;
  /** Random init of the preset's size instead of the bundled pretrained encoder. */
  scratch?: boolean;
  data?: string;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  labels?: string[];
  memoryBatchSizes?: number[];
  /** Use every example of the task instead of the preset's subset. */
  fullData?: boolean;
  out?: string;
  smoke: boolean;
  json: boolean;
  /** Worker processes for the runs (default: the machine's cores). */
  jobs?: number;
  /** A named set of methods instead of --methods: `survey` runs every registered method and hybrid. */
  suite?: string;
}

/** Runs `peftjs compare`: prints the table (or the JSON) and, last, the report folder. */
export async function runCompareCommand(options: CompareCommandOptions, io: CliIo, registry: MethodRegistry = defaultRegistry): Promise<CompareMethodsResult> {
  const preset: ComparePreset = options.smoke ? SMOKE_PRESET : DEFAULT_PRESET;
  if (options.suite !== undefined && options.methods !== undefined) {
    throw new PeftError('invalid-argument', 'Invalid --suite: give either --suite or --methods, not both.', { field: '--suite', value: options.suite, allowed: 'omitted when --methods is given' });
  }
  const survey = options.suite !== undefined && suiteMethods(options.suite, registry);
  const methodNames = survey || (options.methods ?? DEFAULT_METHODS.filter((name) => name === 'full' || registry.has(name)));
  // A survey records a method that cannot run (e.g. a hybrid whose family is not installed) and goes on.
  const methods = survey ? methodNames : resolveMethodRuns(methodNames, registry, '--methods');
  if (options.task !== undefined && options.data !== undefined) {
    throw new PeftError('invalid-argument', 'Invalid --task: give either --task or --data, not both.', { field: '--task', value: options.task, allowed: 'omitted when --data is given' });
  }
  const backbone = await backboneFor(options, preset);
  const info = await initBackend({ prefer: options.backend });
  const fullTask = await loadTask(options);
  const task = options.fullData ? fullTask : subsetTask(fullTask, preset.subset);
  const learningRates: LearningRates = {};
  if (options.fullLearningRate !== undefined) learningRates.full = options.fullLearningRate;
  if (options.learningRate !== undefined) {
    for (const kind of ['additive', 'selective', 'reparametrization', 'hybrid'] as const) learningRates[kind] = options.learningRate;
  }
  const out = resolve(options.out ?? join('peftjs-report', `${task.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const progress = progressReporter(io, { json: options.json, metric: task.metric });
  if (!options.json) io.stderr(`backend: ${info.backend}${info.native ? ' (native)' : ''}${info.gpu ? ' (GPU)' : ''}\n`);
  let outcome: CompareMethodsResult;
  try {
    outcome = await compareMethods({
      task,
      methods,
      seeds: options.seeds ?? preset.seeds,
      steps: options.steps ?? preset.steps,
      batchSize: options.batchSize ?? preset.batchSize,
      learningRates,
      backbone,
      registry,
      memoryBatchSizes: options.memoryBatchSizes ?? preset.memoryBatchSizes,
      outDir: out,
      // Workers look methods up in the default registry, so a registry of the caller's own runs in this process.
      jobs: options.jobs ?? (registry === defaultRegistry ? defaultJobs() : 1),
      continueOnError: Boolean(survey),
      notes: {
        preset: options.smoke ? 'smoke' : 'default',
        ...(options.suite ? { suite: options.suite } : {}),
        subset: options.fullData ? 'all examples' : `at most ${preset.subset.train} / ${preset.subset.validation} / ${preset.subset.test} examples (train / validation / test), evenly across each split`,
      },
      onProgress: progress.onProgress,
    });
  } finally {
    progress.stop();
  }
  if (options.json) io.stdout(`${JSON.stringify({ reportDir: out, files: outcome.files, results: outcome.results }, null, 2)}\n`);
  else io.stdout(`${formatComparisonText(outcome.results)}\n\n${out}\n`);
  return outcome;
}

/** The method names of a suite: `survey` is every registered method of every family, then the hybrids. */
export function suiteMethods(suite: string, registry: MethodRegistry = defaultRegistry): string[] {
  if (!(SUITES as readonly string[]).includes(suite)) invalidArgument('--suite', suite, SUITES);
  return listMethods(registry).map((listing) => listing.name);
}

const DATA_OPTION_FIELDS = ['data', 'text-column', 'text-pair-column', 'label-column'];

async function loadTask(options: CompareCommandOptions): Promise<BenchTask> {
  if (options.data === undefined) return findTask(options.task ?? DEFAULT_TASK, '--task').build();
  try {
    return await loadCustomTask(options.data, {
      textColumn: options.textColumn,
      textPairColumn: options.textPairColumn,
      labelColumn: options.labelColumn,
      labels: options.labels,
    });
  } catch (error) {
    if (!PeftError.isInstance(error) || error.field === undefined) throw error;
    const option = DATA_OPTION_FIELDS.includes(error.field) ? `--${error.field}` : error.field.startsWith('labels') ? error.field.replace(/^labels/, '--labels') : error.field;
    const prefix = `Invalid ${error.field}`;
    const message = error.message.startsWith(prefix) ? `Invalid ${option}${error.message.slice(prefix.length)}` : `${option}: ${error.message}`;
    throw new PeftError(error.code, message, { field: option, value: error.value, allowed: error.allowed, cause: error });
  }
}
