import { collateExamples, defaultRegistry, disposeBatch, fullFineTuning, measurePeakMemoryAsync, peft, train, type MethodRegistry, type Parameter } from '@peftjs/core';
import type { MemorySweepPoint } from '../report/results';
import type { BenchTask } from '../tasks/task';
import { scratchBackbone, type BackboneProvider } from './backbone';
import { resolveMethodRuns, type MethodRunInput } from './method-spec';
import { prepareTask, type PreparedTask } from './prepare-task';

export interface MemorySweepOptions {
  methods: readonly MethodRunInput[];
  /** Tried in increasing order. */
  batchSizes: readonly number[];
  /** The task whose examples fill the batches (or an already prepared one). */
  task: BenchTask | PreparedTask;
  backbone?: BackboneProvider;
  registry?: MethodRegistry;
  seed?: number;
  onPoint?: (point: MemorySweepPoint) => void;
}

export interface MemorySweepResult {
  points: MemorySweepPoint[];
  /** Methods whose sweep stopped early: the batch size that did not fit and why. */
  stopped: Array<{ method: string; batch: number; reason: string }>;
}

/**
 * Peak memory of one training step (forward, backward, AdamW update with its moments created)
 * per method and batch size, as far as it fits: an out-of-memory error (on wasm, "memory access
 * out of bounds") ends that method's sweep. Batch b is the first b examples of the train split,
 * so larger batches hold the smaller ones and the padded length never shrinks.
 */
export async function memorySweep(options: MemorySweepOptions): Promise<MemorySweepResult> {
  const prepared = 'examples' in options.task ? options.task : await prepareTask(options.task, options.backbone ?? scratchBackbone());
  const runs = resolveMethodRuns(options.methods, options.registry ?? defaultRegistry);
  const batchSizes = [...options.batchSizes].sort((a, b) => a - b);
  const trainExamples = prepared.examples.train;
  const result: MemorySweepResult = { points: [], stopped: [] };
  for (const run of runs) {
    for (const batch of batchSizes) {
      if (batch > trainExamples.length) {
        result.stopped.push({ method: run.name, batch, reason: `the train split has only ${trainExamples.length} examples` });
        break;
      }
      const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: prepared.numLabels, seed: options.seed ?? 1 });
      const tuned = run.configs.length === 0 ? undefined : peft(model, run.configs, { trackChanges: false });
      const data = collateExamples(trainExamples.slice(0, batch));
      try {
        const { peakBytes } = await measurePeakMemoryAsync(() => train(tuned ?? fullFineTuning(model), { data: [data], maxSteps: 1, learningRate: 1e-3, seed: options.seed ?? 1 }));
        const point = { method: run.name, batch, peakBytes: Math.max(0, Math.round(peakBytes)) };
        result.points.push(point);
        options.onPoint?.(point);
      } catch (error) {
        if (!isOutOfMemoryError(error)) throw error;
        result.stopped.push({ method: run.name, batch, reason: (error as Error).message });
        break;
      } finally {
        disposeBatch(data);
        const parameters = new Set<Parameter>([...model.parameters(), ...(tuned?.allParameters() ?? [])]);
        for (const parameter of parameters) parameter.dispose();
      }
    }
  }
  return result;
}

/** Whether an error means the backend ran out of memory (wasm's heap shows it as an out-of-bounds access). */
export function isOutOfMemoryError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /memory access out of bounds|out of memory|Array buffer allocation failed|Cannot allocate|OOM/i.test(message) || error instanceof RangeError;
}
