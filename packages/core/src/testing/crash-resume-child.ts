/**
 * The training process of the crash-resume check (see crash-resume.ts): trains a tiny BERT
 * classifier on the cpu backend with the trainer's checkpoints, from a fresh start or resumed from
 * the newest checkpoint, and writes the final parameters and losses. Reports each finished step on
 * stdout as `step <n>`; with `pauseAtStep` it freezes right after reporting that step, so the parent
 * can SIGKILL it between two checkpoints. Run as a script: `crash-resume-child <spec as JSON>`.
 */
import { writeFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { silenceCpuBackendBanner } from '../backend/quiet-cpu-backend';
import { peft } from '../method/peft-model';
import type { MethodConfig } from '../method/types';
import { createBert } from '../models/bert-model';
import { tf } from '../nn/tf';
import { saveSafetensors } from '../io/safetensors-file';
import { exampleBatches, type Example } from '../train/example-batches';
import { fullFineTuning } from '../train/full-fine-tuning';
import { train } from '../train/trainer';
import type { TrainingTarget } from '../train/types';
import { SeedStream, setGlobalSeed } from '../util/random';

/** What the parent asks the child to do. */
export interface CrashResumeChildSpec {
  /** Methods to apply: a module (specifier or file URL), its export (a configured-method factory) and the config. None: full fine-tuning. */
  methods?: Array<{ module: string; export: string; config?: unknown }>;
  checkpointDir: string;
  totalSteps: number;
  checkpointEvery: number;
  gradientAccumulationSteps: number;
  resume: boolean;
  /** Freeze after reporting this step (the parent kills the process there). */
  pauseAtStep?: number;
  /** Where to write the final parameters (safetensors) and `<path>.json` with the losses. */
  outputPath: string;
}

async function main(spec: CrashResumeChildSpec): Promise<void> {
  silenceCpuBackendBanner();
  await tf.setBackend('cpu');
  await tf.ready();
  setGlobalSeed(2024);
  const model = createBert({
    vocabSize: 40,
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 16,
    hiddenDropout: 0.1,
    attentionDropout: 0.1,
    task: 'sequence-classification',
    numLabels: 2,
  });
  const target: TrainingTarget = spec.methods ? peft(model, await loadMethods(spec.methods)) : fullFineTuning(model);

  // 22 examples of mixed length in batches of 4: 6 batches an epoch (the last one short), reshuffled every epoch.
  const random = new SeedStream(7);
  const examples: Example[] = Array.from({ length: 22 }, (_, i) => {
    const length = 3 + random.nextInt(8);
    return { inputIds: Array.from({ length }, () => 1 + random.nextInt(39)), labels: i % 2 };
  });

  const result = await train(target, {
    data: exampleBatches(examples, { batchSize: 4, seed: 5 }),
    maxSteps: spec.totalSteps,
    learningRate: 1e-2,
    warmupSteps: 2,
    weightDecay: 0.01,
    gradientAccumulationSteps: spec.gradientAccumulationSteps,
    checkpointDir: spec.checkpointDir,
    checkpointEvery: spec.checkpointEvery,
    resume: spec.resume,
    seed: 11,
    onEvent: (event) => {
      if (event.type !== 'step') return;
      // A synchronous write: the parent must see the line before the process freezes.
      writeSync(1, `step ${event.step}\n`);
      if (event.step === spec.pauseAtStep) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
        writeSync(2, 'crash-resume-child: paused for 120 s and was not killed\n');
        process.exit(3);
      }
    },
  });
  await saveSafetensors(spec.outputPath, Object.fromEntries(model.namedParameters().map(([name, parameter]) => [name, parameter.value])));
  writeFileSync(`${spec.outputPath}.json`, JSON.stringify({ losses: result.losses, resumedFrom: result.resumedFrom ?? null, step: result.step }));
}

async function loadMethods(methods: NonNullable<CrashResumeChildSpec['methods']>): Promise<MethodConfig[]> {
  const configs: MethodConfig[] = [];
  for (const entry of methods) {
    const specifier = /^[./]/.test(entry.module) ? pathToFileURL(entry.module).href : entry.module;
    const exports = (await import(specifier)) as Record<string, unknown>;
    const factory = exports[entry.export];
    if (typeof factory !== 'function') throw new Error(`${entry.module} has no export "${entry.export}"`);
    configs.push((factory as (config?: unknown) => MethodConfig)(entry.config));
  }
  return configs;
}

main(JSON.parse(process.argv[2] ?? '{}') as CrashResumeChildSpec).catch((error: unknown) => {
  writeSync(2, `crash-resume-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
