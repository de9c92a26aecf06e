import { join } from 'node:path';
import { PeftError, readJsonFile, writeJsonAtomic, z } from '@peftjs/core';

/** Bumped whenever a field changes meaning or a required field is added. */
export const BENCH_RESULTS_SCHEMA_VERSION = 1;

/** The file name `writeResultsJson` writes inside its directory. */
export const RESULTS_FILE_NAME = 'results.json';

/** The method name of full fine-tuning: the reference the ratios of the report are taken against. */
export const FULL_FINE_TUNING = 'full';

const count = z.number().int().nonnegative();
const finite = z.number().finite();

/** Where the numbers were measured: every ratio in a report only compares runs of one backend. */
export const BenchBackendSchema = z.object({
  /** tfjs backend name as `tf.getBackend()` reports it: `tensorflow`, `wasm`, `cpu`, ... */
  name: z.string().min(1),
  /** Whether the kernels are native (libtensorflow through tfjs-node) rather than JavaScript or wasm. */
  native: z.boolean(),
  /** Whether a GPU ran the kernels (tfjs-node-gpu with CUDA). */
  gpu: z.boolean(),
});

export const BenchMachineSchema = z.object({
  /** `process.platform`. */
  platform: z.string().min(1),
  /** Logical CPU cores (`os.availableParallelism()`). */
  cpus: count,
  /** `process.version`. */
  node: z.string().min(1),
  /** CPU model, when known (`os.cpus()[0].model`). */
  cpuModel: z.string().optional(),
  /** GPU model, when a GPU ran. */
  gpuModel: z.string().optional(),
});

export const BenchTaskInfoSchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
  /** The primary metric: every run's `score` has it; the table and charts show it. */
  metric: z.string().min(1),
  /** Examples per split. */
  sizes: z.object({ train: count, validation: count, test: count }),
});

export const BenchModelInfoSchema = z.object({
  name: z.string().min(1),
  /** The backbone's configuration (hidden size, layers, ...), as given to the model. */
  config: z.record(z.string(), z.unknown()),
  /** Parameters of the backbone with its task head, before any method is applied. */
  parameters: count,
});

/** One method of a run's composition with its validated configuration. */
export const BenchMethodConfigSchema = z.object({
  name: z.string().min(1),
  config: z.record(z.string(), z.unknown()),
});

export const LossPointSchema = z.object({ step: count, loss: finite });

/** One training run: a method (or composition) with one seed. */
export const BenchRunSchema = z.object({
  /** Display name of the method or composition; `full` is full fine-tuning. */
  method: z.string().min(1),
  /** The methods applied, in order, with their configurations (empty for full fine-tuning). */
  methodConfigs: z.array(BenchMethodConfigSchema),
  /** The family the row belongs to in the report's per-family view: the method's package, `hybrid` for a composition, `full`. */
  family: z.string().min(1).optional(),
  seed: z.number().int(),
  /** Metric name -> value on the test split (GLUE-style metrics in [-1, 1] or [0, 1]). */
  score: z.record(z.string(), finite),
  /** Entries the optimizer updates. */
  trainableParameters: count,
  /**
   * Entries whose value differs from the base model after training (core's parameter report:
   * measured merged when every method merges, so a low-rank update counts the matrix it changes);
   * null when not tracked.
   */
  changedParameters: count.nullable(),
  /** Every parameter entry of the run: the base model's plus those the methods added. */
  totalParameters: count.positive(),
  /** Peak bytes of a training step (core's MemoryMeter: each data buffer once, resident baseline subtracted). */
  peakMemoryBytes: count,
  /** Input tokens (padding excluded) per second over the training steps. */
  trainTokensPerSecond: finite.positive(),
  /** Input tokens (padding excluded) per second of evaluation forward passes, methods not merged (as the survey measures). */
  inferenceTokensPerSecond: finite.positive(),
  /** Bytes of the saved adapter file (the whole model's weights for full fine-tuning). */
  adapterBytes: count,
  /** Optimizer steps taken. */
  steps: count,
  /** Wall-clock seconds of the run: training, evaluation and saving. */
  wallSeconds: finite.nonnegative(),
  /** Training loss by step, when recorded. */
  lossCurve: z.array(LossPointSchema).optional(),
  /** Validation score (the task metric) by step, when evaluated during training. */
  evalCurve: z.array(z.object({ step: count, score: finite })).optional(),
  /** For a composition: each method's trainable and changed entries (see partParameterReport). */
  parts: z.array(z.object({ name: z.string().min(1), packageName: z.string().min(1), trainableParameters: count, changedParameters: count.nullable() })).optional(),
});

/** A run that threw: recorded with its error so a long suite goes on and the report shows what failed. */
export const FailedRunSchema = z.object({
  method: z.string().min(1),
  seed: z.number().int(),
  /** The PeftError code, when the error had one. */
  code: z.string().optional(),
  message: z.string(),
});

/** Peak training memory of one method at one batch size (the memory-vs-batch sweep). */
export const MemorySweepPointSchema = z.object({
  method: z.string().min(1),
  batch: count.positive(),
  peakBytes: count,
});

/**
 * A benchmark's results: where it ran, on what, and one record per (method, seed) run. Like the
 * result files of Hugging Face PEFT's `method_comparison` (run info, train info, parameter counts,
 * memory, timings, package versions), but one file holds every run of a comparison, so the ratios
 * to full fine-tuning always compare runs on the same machine and backend.
 */
export const BenchResultsSchema = z
  .object({
    schemaVersion: z.literal(BENCH_RESULTS_SCHEMA_VERSION),
    /** ISO 8601 time the benchmark finished. */
    createdAt: z.iso.datetime({ offset: true }),
    backend: BenchBackendSchema,
    machine: BenchMachineSchema,
    /** Package name -> version (`@peftjs/core`, `@tensorflow/tfjs`, ...). */
    versions: z.record(z.string(), z.string()).optional(),
    task: BenchTaskInfoSchema,
    model: BenchModelInfoSchema,
    /** Training settings shared by the runs (batch size, sequence length, epochs, learning rates, ...). */
    training: z.record(z.string(), z.unknown()).optional(),
    runs: z.array(BenchRunSchema).min(1),
    /** Runs that failed (a suite records them and goes on). */
    failedRuns: z.array(FailedRunSchema).optional(),
    memorySweep: z.array(MemorySweepPointSchema).optional(),
  })
  .superRefine((results, context) => {
    results.runs.forEach((run, index) => {
      if (run.score[results.task.metric] === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['runs', index, 'score', results.task.metric],
          message: `every run needs a score for the task metric "${results.task.metric}"`,
        });
      }
      if (run.trainableParameters > run.totalParameters) {
        context.addIssue({ code: 'custom', path: ['runs', index, 'trainableParameters'], message: 'at most totalParameters' });
      }
      if (run.changedParameters !== null && run.changedParameters > run.totalParameters) {
        context.addIssue({ code: 'custom', path: ['runs', index, 'changedParameters'], message: 'at most totalParameters' });
      }
    });
  });

export type BenchBackend = z.infer<typeof BenchBackendSchema>;
export type BenchMachine = z.infer<typeof BenchMachineSchema>;
export type BenchTaskInfo = z.infer<typeof BenchTaskInfoSchema>;
export type BenchModelInfo = z.infer<typeof BenchModelInfoSchema>;
export type BenchMethodConfig = z.infer<typeof BenchMethodConfigSchema>;
export type BenchRun = z.infer<typeof BenchRunSchema>;
export type FailedRun = z.infer<typeof FailedRunSchema>;
export type MemorySweepPoint = z.infer<typeof MemorySweepPointSchema>;
export type BenchResults = z.infer<typeof BenchResultsSchema>;

/**
 * Validates and writes `results.json` in `dir` atomically (a reader never sees a torn file).
 * Returns the file's path. An invalid value is a PeftError('invalid-config') naming the field.
 *
 * @example
 * await writeResultsJson('bench-out', results); // bench-out/results.json
 */
export async function writeResultsJson(dir: string, results: BenchResults): Promise<string> {
  const validated = parseBenchResults(results);
  const path = join(dir, RESULTS_FILE_NAME);
  await writeJsonAtomic(path, validated);
  return path;
}

/** Reads `results.json` from `dir` (or the file itself when `path` ends in `.json`) and validates it. */
export async function readResultsJson(path: string): Promise<BenchResults> {
  const file = path.endsWith('.json') ? path : join(path, RESULTS_FILE_NAME);
  return readJsonFile(file, BenchResultsSchema);
}

/** Validates a results value; a PeftError('invalid-config') names the first offending field. */
export function parseBenchResults(value: unknown): BenchResults {
  const result = BenchResultsSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw new PeftError('invalid-config', `Invalid bench results: ${field || '(root)'}: ${issue?.message ?? 'invalid value'}.`, {
    field,
    value: valueAt(value, issue?.path ?? []),
    allowed: issue?.message ?? 'a value matching BenchResultsSchema',
  });
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
