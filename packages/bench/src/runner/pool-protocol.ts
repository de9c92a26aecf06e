import type { BackendPreference, BertTask, Example } from '@peftjs/core';
import type { BackboneRecipe } from './backbone';
import type { RunMeasurement } from './run-method';

/** A method run as data: each part by registered name with its parsed config (none for full fine-tuning). */
export interface SerializedRunSpec {
  name: string;
  parts: Array<{ method: string; config: unknown }>;
}

/** What every worker of a pool gets once: how to make models and the tokenized data. */
export interface PoolWorkerSetup {
  backend: BackendPreference;
  recipe: BackboneRecipe;
  modelTask: BertTask;
  numLabels: number;
  train: readonly Example[];
  test: readonly Example[];
  validation?: readonly Example[];
  /** Modules the worker imports before running (e.g. a user's `register` entry), besides the installed families. */
  workerModules: readonly string[];
}

/** One run of a pool: which, with what settings. */
export interface PoolJob {
  id: number;
  spec: SerializedRunSpec;
  seed: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  inferenceBatches?: number;
  evalEvery?: number;
  evalMetric?: string;
}

export type ParentMessage = { type: 'setup'; setup: PoolWorkerSetup } | { type: 'job'; job: PoolJob } | { type: 'exit' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'step'; id: number; step: number; totalSteps: number; loss: number }
  | { type: 'done'; id: number; measurement: RunMeasurement }
  | { type: 'failed'; id: number; error: { message: string; code?: string; stack?: string } };
