import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PeftError, configToJson } from '@peftjs/core';
import type { MethodRunSpec } from './method-spec';
import type { ParentMessage, PoolJob, PoolWorkerSetup, SerializedRunSpec, WorkerMessage } from './pool-protocol';
import type { RunMeasurement } from './run-method';

/** A run of the pool: its measurement, or the error that ended it. */
export type PoolOutcome = { id: number; measurement: RunMeasurement } | { id: number; error: { message: string; code?: string } };

export interface RunPoolOptions {
  /** Worker processes (at most one per job). Default: the machine's cores. */
  jobs?: number;
  setup: PoolWorkerSetup;
  onStart?(id: number): void;
  onStep?(id: number, step: number, totalSteps: number, loss: number): void;
  onEnd?(outcome: PoolOutcome): void;
}

/** Default pool size: one worker per core. */
export function defaultJobs(): number {
  return availableParallelism();
}

/** A run as data the workers rebuild through their registry (configs as JSON, RegExps as `{ regex }`). */
export function serializeRunSpec(spec: MethodRunSpec): SerializedRunSpec {
  return { name: spec.name, parts: spec.configs.map(({ method, config }) => ({ method: method.name, config: configToJson(config, method.name) })) };
}

/**
 * Runs independent training jobs in worker processes, each pinned to one thread (the wasm
 * backend has one in Node; native backends are told so by OMP/TF thread variables), and returns
 * the outcomes in job order, whatever order they finished in. A job that throws, or whose worker
 * dies, is an error outcome and the others go on; a dead worker is replaced.
 */
export async function runPool(jobs: readonly PoolJob[], options: RunPoolOptions): Promise<PoolOutcome[]> {
  const outcomes = new Map<number, PoolOutcome>();
  const pending = [...jobs];
  const size = Math.max(1, Math.min(options.jobs ?? defaultJobs(), jobs.length));
  const entry = poolWorkerEntry();
  await new Promise<void>((resolve) => {
    let live = 0;
    const finish = (outcome: PoolOutcome) => {
      outcomes.set(outcome.id, outcome);
      options.onEnd?.(outcome);
    };
    const start = () => {
      live += 1;
      const child: ChildProcess = fork(entry.file, [], {
        execArgv: entry.execArgv,
        env: { ...process.env, OMP_NUM_THREADS: '1', TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      let current: PoolJob | undefined;
      const send = (message: ParentMessage) => child.send(message);
      const next = () => {
        current = pending.shift();
        if (current === undefined) {
          send({ type: 'exit' });
          return;
        }
        options.onStart?.(current.id);
        send({ type: 'job', job: current });
      };
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') next();
        else if (message.type === 'step') options.onStep?.(message.id, message.step, message.totalSteps, message.loss);
        else if (message.type === 'done' || message.type === 'failed') {
          finish(message.type === 'done' ? { id: message.id, measurement: message.measurement } : { id: message.id, error: message.error });
          next();
        }
      });
      child.on('exit', (code, signal) => {
        live -= 1;
        if (current !== undefined && !outcomes.has(current.id)) {
          finish({ id: current.id, error: { message: `worker process exited (${signal ?? `code ${code}`}) during the run` } });
          current = undefined;
          if (pending.length) start();
        }
        if (live === 0) resolve();
      });
      send({ type: 'setup', setup: options.setup });
    };
    for (let i = 0; i < size; i++) start();
  });
  return jobs.map((job) => outcomes.get(job.id) ?? { id: job.id, error: { message: 'not run' } });
}

/** The worker's entry: the TypeScript source run through tsx when this module is source, else the built file. */
function poolWorkerEntry(): { file: string; execArgv: string[] } {
  const here = import.meta.url as string | undefined;
  if (typeof here !== 'string') {
    throw new PeftError('not-implemented', 'The run pool needs the ESM build or the TypeScript source of @peftjs/bench (the CommonJS build runs with jobs: 1).', { field: 'jobs', value: undefined, allowed: 'jobs: 1' });
  }
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return { file: fileURLToPath(new URL('./pool-worker.ts', here)), execArgv: ['--conditions=@peftjs/source', '--import', tsx] };
  }
  // The built entry sits in dist/runner/; this code may be in dist/ (a shared chunk) or in dist/cli/.
  const built = ['./runner/pool-worker.js', '../runner/pool-worker.js'].map((path) => new URL(path, here)).find((url) => existsSync(url));
  if (built === undefined) {
    throw new PeftError('not-implemented', 'The run pool needs the ESM build or the TypeScript source of @peftjs/bench (dist/runner/pool-worker.js not found).', { field: 'jobs', value: undefined, allowed: 'jobs: 1' });
  }
  return { file: fileURLToPath(built), execArgv: [] };
}
