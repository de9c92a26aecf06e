import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import {
  PeftError,
  batchExamples,
  defaultRegistry,
  disposeBatch,
  evaluate,
  initBackend,
  loadHfBert,
  loadPeft,
  peft,
  saveHfBert,
  train,
  writeFileAtomic,
  type BackendPreference,
  type Example,
  type MethodConfig,
  type MethodRegistry,
  type TrainEvent,
} from '@peftjs/core';
import { composeByName, COMPOSITION_SEPARATOR } from '../hybrids/compose-by-name';
import { hybridsFor, type HybridRegistry } from '../hybrids/hybrid-registry';
import { FULL_FINE_TUNING } from '../report/results';
import { hfBertBackbone } from '../runner/backbone';
import { benchDefaultConfig } from '../runner/method-spec';
import { prepareTask } from '../runner/prepare-task';
import { shuffledBatches } from '../runner/run-method';
import { loadCustomTask } from '../tasks/custom-task';
import type { BenchTask } from '../tasks/task';
import type { CliIo } from './cli-io';
import { deepMerge, parseConfigOverrides } from './config-overrides';
import { formatDuration, remainingSeconds } from './progress';

/** The options of `peftjs train`. */
export interface TrainCommandOptions {
  method: string;
  model: string;
  data: string;
  out: string;
  /** `key=value` overrides or JSON files, in order (for a hybrid, keys start with the part's label: `lora.r=4`). */
  config?: string[];
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  maxLength?: number;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  labels?: string[];
  evalEvery?: number;
  checkpointEvery: number;
  resume: boolean;
  backend: BackendPreference;
  json: boolean;
}

/** What `peftjs train` writes beside the adapter, so `peftjs eval` reads the data the same way. */
export interface TrainedTaskInfo {
  method: string;
  labels: string[];
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  maxLength: number;
}

const TASK_INFO_FILE = 'peftjs-task.json';

/**
 * The configured methods of `--method`: one registered method (its bench defaults, then the
 * overrides), a registered hybrid or a composition `a+b` (overrides keyed by part label).
 */
export function resolveTrainMethod(name: string, overrides: Record<string, unknown>, registry: MethodRegistry = defaultRegistry, hybrids: HybridRegistry = hybridsFor(registry)): MethodConfig[] {
  if (name === FULL_FINE_TUNING) {
    throw new PeftError('invalid-argument', 'Invalid --method: "full" trains every weight and saves no adapter; allowed: a PEFT method, a hybrid or a composition (e.g. lora, mam, lora+bitfit).', { field: '--method', value: name, allowed: 'a PEFT method' });
  }
  if (registry.has(name)) {
    const method = registry.get(name);
    return [method(deepMerge(benchDefaultConfig(method) ?? {}, overrides))];
  }
  const hybrid = hybrids.has(name) ? hybrids.get(name) : name.includes(COMPOSITION_SEPARATOR) ? composeByName(name, { registry, hybrids, field: '--method' }) : undefined;
  if (hybrid === undefined) {
    // The registry's error names the package that provides a known method.
    registry.get(name);
  }
  for (const [label, value] of Object.entries(overrides)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new PeftError('invalid-argument', `Invalid --config ${label}: for a hybrid, keys start with a part label (${hybrid!.parts.map((part) => `${part.label}.<field>`).join(', ')}).`, {
        field: '--config',
        value: label,
        allowed: hybrid!.parts.map((part) => part.label),
      });
    }
  }
  return hybrid!.configs({ registry, overrides: overrides as Record<string, Record<string, unknown>>, trainHead: true });
}

/**
 * `peftjs train`: fine-tunes one method (or hybrid) of a Hugging Face BERT directory on a TSV/JSONL
 * file (its seeded 80/10/10 split), evaluating on the validation split, checkpointing every
 * `checkpointEvery` steps under `<out>/checkpoints` (resumed with `--resume`), and saves the adapter
 * to `<out>/adapter` in HF PEFT's format where the method has one, else the peftjs manifest.
 */
export async function runTrainCommand(options: TrainCommandOptions, io: CliIo, registry: MethodRegistry = defaultRegistry): Promise<Record<string, unknown>> {
  const overrides = await parseConfigOverrides(options.config ?? []);
  const configs = resolveTrainMethod(options.method, overrides, registry);
  const info = await initBackend({ prefer: options.backend });
  const task = await loadTask(options);
  const provider = hfBertBackbone(options.model, { maxLength: options.maxLength ?? 128 });
  const prepared = await prepareTask(task, provider);
  const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: options.seed });
  const tuned = peft(model, configs);
  const out = resolve(options.out);
  const log = (text: string) => {
    if (!options.json) io.stderr(`${text}\n`);
  };
  log(`backend: ${info.backend}${info.native ? ' (native)' : ''}; ${task.train.length} / ${task.validation.length} / ${task.test.length} examples (train / validation / test)`);
  log(tuned.formatReport());
  const validation = batchExamples(prepared.examples.validation, { batchSize: options.batchSize });
  const progress = trainProgress(io, options);
  try {
    const result = await train(tuned, {
      data: (epoch) => shuffledBatches(prepared.examples.train, options.batchSize, options.seed, epoch, () => {}),
      maxSteps: options.steps,
      learningRate: options.learningRate,
      seed: options.seed,
      warmupRatio: 0.06,
      ...(validation.length ? { evalData: validation, evalEvery: options.evalEvery ?? Math.max(1, Math.ceil(options.steps / 4)) } : {}),
      checkpointDir: join(out, 'checkpoints'),
      checkpointEvery: options.checkpointEvery,
      keepCheckpoints: 2,
      resume: options.resume,
      onEvent: progress.onEvent,
    });
    progress.stop();
    const metric = task.metric;
    const validationMetrics = validation.length ? withoutLoss(evaluate(tuned, validation)) : undefined;
    const testMetrics = scoreExamples(tuned, prepared.examples.test, options.batchSize);
    const adapterDir = join(out, 'adapter');
    const format = configs.length === 1 && tuned.appliedMethods()[0]!.exportHf ? 'hf' : 'peftjs';
    await tuned.save(adapterDir, { format });
    const taskInfo: TrainedTaskInfo = {
      method: options.method,
      labels: [...task.labels],
      ...(options.textColumn ? { textColumn: options.textColumn } : {}),
      ...(options.textPairColumn ? { textPairColumn: options.textPairColumn } : {}),
      ...(options.labelColumn ? { labelColumn: options.labelColumn } : {}),
      maxLength: prepared.backbone.maxLength,
    };
    await writeFileAtomic(join(adapterDir, TASK_INFO_FILE), `${JSON.stringify(taskInfo, null, 2)}\n`);
    const summary = {
      method: options.method,
      adapter: adapterDir,
      format,
      steps: result.step,
      ...(result.resumedFrom ? { resumedFrom: result.resumedFrom } : {}),
      finalLoss: result.losses.at(-1),
      metric,
      validation: validationMetrics,
      test: testMetrics,
      parameters: { total: tuned.report().total, trainable: tuned.report().trainable, changed: tuned.report().changed ?? null },
    };
    await writeFileAtomic(join(out, 'train-summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    if (options.json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      const score = (metrics: Record<string, number> | undefined) => (metrics?.[metric] === undefined ? 'n/a' : (100 * metrics[metric]!).toFixed(1));
      io.stdout(`${options.method}: ${result.step} steps, validation ${metric} ${score(validationMetrics)}, test ${metric} ${score(testMetrics)}\n${adapterDir}\n`);
    }
    return summary;
  } finally {
    progress.stop();
    validation.forEach(disposeBatch);
  }
}

/** The options of `peftjs eval`. */
export interface EvalCommandOptions {
  model: string;
  adapter: string;
  data: string;
  batchSize: number;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  backend: BackendPreference;
  json: boolean;
}

/** `peftjs eval`: loads an adapter onto the base model and scores every row of a TSV/JSONL file (labels in the training's order). */
export async function runEvalCommand(options: EvalCommandOptions, io: CliIo, registry: MethodRegistry = defaultRegistry): Promise<Record<string, number>> {
  await initBackend({ prefer: options.backend });
  const info = await readTaskInfo(options.adapter);
  const task = await loadCustomTask(options.data, {
    textColumn: options.textColumn ?? info?.textColumn,
    textPairColumn: options.textPairColumn ?? info?.textPairColumn,
    labelColumn: options.labelColumn ?? info?.labelColumn,
    ...(info ? { labels: info.labels } : {}),
  });
  const everything: BenchTask = { ...task, train: [...task.train, ...task.validation, ...task.test], validation: [], test: [...task.train, ...task.validation, ...task.test] } as BenchTask;
  const prepared = await prepareTask(everything, hfBertBackbone(options.model, { maxLength: info?.maxLength ?? 128 }));
  const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: 0 });
  const tuned = await loadPeft(model, options.adapter, { registry });
  const metrics = scoreExamples(tuned, prepared.examples.test, options.batchSize);
  io.stdout(options.json ? `${JSON.stringify({ examples: prepared.examples.test.length, metrics }, null, 2)}\n` : `${Object.entries(metrics).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ')} (${prepared.examples.test.length} examples)\n`);
  return metrics;
}

/** The options of `peftjs merge`. */
export interface MergeCommandOptions {
  model: string;
  adapter: string;
  out: string;
  backend: BackendPreference;
}

/**
 * `peftjs merge`: loads an adapter onto the base model, folds it into the weights and writes a
 * Hugging Face BERT checkpoint (config.json, model.safetensors, and the base's tokenizer.json).
 * A method that cannot merge is a 'not-mergeable' error naming it.
 */
export async function runMergeCommand(options: MergeCommandOptions, io: CliIo, registry: MethodRegistry = defaultRegistry): Promise<void> {
  await initBackend({ prefer: options.backend });
  const info = await readTaskInfo(options.adapter);
  const numLabels = info?.labels.length ?? 2;
  const { model } = await loadHfBert(options.model, { task: 'sequence-classification', numLabels, reinitializeMismatchedHeads: true });
  const tuned = await loadPeft(model, options.adapter, { registry });
  tuned.merge();
  await mkdir(options.out, { recursive: true });
  await saveHfBert(tuned.model, options.out);
  try {
    await writeFileAtomic(join(options.out, 'tokenizer.json'), await readFile(join(options.model, 'tokenizer.json'), 'utf8'));
  } catch {
    // A base without tokenizer.json gives a merged checkpoint without one.
  }
  io.stdout(`${resolve(options.out)}\n`);
}

async function readTaskInfo(adapterDir: string): Promise<TrainedTaskInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(adapterDir, TASK_INFO_FILE), 'utf8')) as TrainedTaskInfo;
  } catch {
    return undefined;
  }
}

async function loadTask(options: TrainCommandOptions): Promise<BenchTask> {
  return loadCustomTask(options.data, { textColumn: options.textColumn, textPairColumn: options.textPairColumn, labelColumn: options.labelColumn, labels: options.labels });
}

function scoreExamples(target: Parameters<typeof evaluate>[0], examples: readonly Example[], batchSize: number): Record<string, number> {
  const batches = batchExamples(examples, { batchSize });
  try {
    return withoutLoss(evaluate(target, batches));
  } finally {
    batches.forEach(disposeBatch);
  }
}

function withoutLoss(metrics: Record<string, number>): Record<string, number> {
  const { loss: _loss, ...rest } = metrics;
  return rest;
}

/** A step bar with loss and ETA on a terminal; otherwise a line per evaluation, checkpoint and tenth of the run. */
function trainProgress(io: CliIo, options: { json: boolean; steps: number }): { onEvent(event: TrainEvent): void; stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let started = 0;
  let firstStep = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  if (options.json) return { onEvent: () => {}, stop };
  const tty = io.stderrIsTTY && io.progressStream !== undefined;
  const every = Math.max(1, Math.round(options.steps / 10));
  return {
    onEvent(event) {
      if (event.type === 'start') {
        started = performance.now() / 1000;
        firstStep = event.step;
        if (event.resumedFrom) io.stderr(`resumed from ${event.resumedFrom} at step ${event.step}\n`);
        if (tty) {
          bar = new cliProgress.SingleBar({ stream: io.progressStream, hideCursor: true, format: 'train |{bar}| {value}/{total} steps | loss {loss} | ETA {eta_formatted}' }, cliProgress.Presets.shades_classic);
          bar.start(event.totalSteps, event.step, { loss: '-' });
        }
      } else if (event.type === 'step') {
        bar?.update(event.step, { loss: event.loss.toFixed(4) });
        if (!bar && (event.step % every === 0 || event.step === event.totalSteps)) {
          const eta = remainingSeconds(event.step - firstStep, event.totalSteps - firstStep, performance.now() / 1000 - started);
          io.stderr(`step ${event.step}/${event.totalSteps} loss ${event.loss.toFixed(4)}${event.step < event.totalSteps ? ` ETA ${formatDuration(eta)}` : ''}\n`);
        }
      } else if (event.type === 'eval') {
        io.stderr(`eval step ${event.step}: ${Object.entries(event.metrics).map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ')}\n`);
      } else if (event.type === 'checkpoint') {
        if (!bar) io.stderr(`checkpoint step ${event.step}: ${event.path}\n`);
      }
    },
    stop,
  };
}
