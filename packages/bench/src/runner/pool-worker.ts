// Entry of a worker process of the run pool (see run-pool.ts): gets a setup, then runs jobs one at a time.
import { defaultRegistry, initBackend, type MethodConfig } from '@peftjs/core';
import { createModelFromRecipe } from './backbone';
import { loadInstalledMethodFamilies } from './method-discovery';
import type { MethodRunSpec } from './method-spec';
import type { ParentMessage, PoolWorkerSetup, SerializedRunSpec, WorkerMessage } from './pool-protocol';
import { runMethod } from './run-method';

const send = (message: WorkerMessage) => process.send!(message);
let setup: PoolWorkerSetup | undefined;
let queue = Promise.resolve();

process.on('message', (message: ParentMessage) => {
  queue = queue.then(() => handle(message));
});

async function handle(message: ParentMessage): Promise<void> {
  if (message.type === 'exit') process.exit(0);
  if (message.type === 'setup') {
    setup = message.setup;
    await initBackend({ prefer: setup.backend });
    await loadInstalledMethodFamilies();
    for (const specifier of setup.workerModules) await import(/* @vite-ignore */ specifier);
    send({ type: 'ready' });
    return;
  }
  const { job } = message;
  try {
    const model = await createModelFromRecipe(setup!.recipe, { task: setup!.modelTask, numLabels: setup!.numLabels, seed: job.seed });
    const measurement = await runMethod(model, deserializeRunSpec(job.spec), { train: setup!.train, test: setup!.test, ...(setup!.validation ? { validation: setup!.validation } : {}) }, {
      steps: job.steps,
      batchSize: job.batchSize,
      learningRate: job.learningRate,
      seed: job.seed,
      ...(job.inferenceBatches !== undefined ? { inferenceBatches: job.inferenceBatches } : {}),
      ...(job.evalEvery !== undefined ? { evalEvery: job.evalEvery } : {}),
      ...(job.evalMetric !== undefined ? { evalMetric: job.evalMetric } : {}),
      onStep: (step, totalSteps, loss) => send({ type: 'step', id: job.id, step, totalSteps, loss }),
    });
    send({ type: 'done', id: job.id, measurement });
  } catch (error) {
    const { message: text, code, stack } = error as { message?: string; code?: string; stack?: string };
    send({ type: 'failed', id: job.id, error: { message: text ?? String(error), ...(code ? { code } : {}), ...(stack ? { stack } : {}) } });
  }
}

/** Rebuilds a run from names and configs through the default registry. */
function deserializeRunSpec(spec: SerializedRunSpec): MethodRunSpec {
  const configs: MethodConfig[] = spec.parts.map((part) => defaultRegistry.get(part.method)(part.config));
  return { name: spec.name, configs };
}

