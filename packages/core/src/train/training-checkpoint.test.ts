import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveSafetensors } from '../io/safetensors-file';
import type { AppliedMethod } from '../method/types';
import { values } from '../models/test-support';
import { tf } from '../nn/tf';
import { exampleBatches } from './example-batches';
import { fullFineTuning } from './full-fine-tuning';
import { makeBatches, makeTinyClassifier, snapshot } from './test-support';
import { train, type TrainOptions } from './trainer';
import { latestCheckpoint, listCheckpoints, loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainerState } from './training-checkpoint';
import type { TrainingTarget } from './types';

let root: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = await mkdtemp(join(tmpdir(), 'peftjs-train-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirCount = 0;
const freshDir = () => join(root, `run-${dirCount++}`);

/** Runs 6 steps straight, then 3 steps + a "kill" + a resume on a new model instance; returns both. */
async function uninterruptedVersusResumed(options: Omit<TrainOptions, 'checkpointDir' | 'resume'>, killAt: number, kill: 'abort' | 'throw', makeTarget = () => fullFineTuning(makeTinyClassifier(1, 0.3))) {
  const straightTarget = makeTarget();
  const straight = await train(straightTarget, options);

  const checkpointDir = freshDir();
  const controller = new AbortController();
  const firstTarget = makeTarget();
  const killed = await train(firstTarget, {
    ...options,
    checkpointDir,
    signal: controller.signal,
    onEvent: (event) => {
      if (event.type === 'checkpoint' && event.step === killAt) {
        if (kill === 'throw') throw new Error('killed');
        controller.abort();
      }
    },
  }).catch((error: unknown) => error);

  const resumedTarget = makeTarget();
  const resumed = await train(resumedTarget, { ...options, checkpointDir, resume: true });
  return { straight, straightTarget, killed, resumed, resumedTarget, checkpointDir };
}

describe('checkpoint and resume', () => {
  it('3 steps + kill + resume to 6 gives the same weights and losses as 6 straight steps (shuffled arrays, dropout)', async () => {
    const options = { data: makeBatches(4), maxSteps: 6, learningRate: 0.05, warmupSteps: 1, weightDecay: 0.01, checkpointEvery: 3 };
    const { straight, straightTarget, killed, resumed, resumedTarget } = await uninterruptedVersusResumed(options, 3, 'abort');
    expect(killed).toMatchObject({ step: 3, stopped: true });
    expect(resumed.resumedFrom).toMatch(/checkpoint-3\.safetensors$/);
    expect(resumed.step).toBe(6);
    expect(resumed.losses).toEqual(straight.losses);
    expect(snapshot(resumedTarget.model as never)).toEqual(snapshot(straightTarget.model as never));
  });

  it('resumes mid-epoch with generated batches and accumulation after a crash', async () => {
    const examples = Array.from({ length: 10 }, (_, i) => ({ inputIds: [(i * 7) % 12, (i * 3) % 12, i % 12].slice(0, 1 + (i % 3)), labels: i % 2 }));
    const options = { data: exampleBatches(examples, { batchSize: 2, seed: 9 }), maxSteps: 5, gradientAccumulationSteps: 2, learningRate: 0.05, checkpointEvery: 2 };
    // 5 micro-batches per epoch -> steps of 2, 2, 1 per epoch; the kill at step 4 is mid-epoch 1.
    const { straight, straightTarget, killed, resumed, resumedTarget } = await uninterruptedVersusResumed(options, 4, 'throw');
    expect((killed as Error).message).toBe('killed');
    expect(resumed.resumedFrom).toMatch(/checkpoint-4\.safetensors$/);
    expect(resumed.losses).toEqual(straight.losses);
    expect(snapshot(resumedTarget.model as never)).toEqual(snapshot(straightTarget.model as never));
  });

  it('saves and restores the methods state and skips calibration on resume', async () => {
    const makeTarget = (): TrainingTarget & { mask: { value: tf.Tensor }; calibrations: number[] } => {
      const model = makeTinyClassifier(1, 0);
      const mask = { value: tf.zeros([2]) };
      const calibrations: number[] = [];
      const method: AppliedMethod = {
        name: 'test/masked',
        claims: [],
        parameters: () => [],
        calibrate: () => void calibrations.push(1),
        afterStep: (info) => {
          mask.value.dispose();
          mask.value = tf.fill([2], info.step);
        },
        state: () => ({ 'head.mask': mask.value }),
        load: (state) => {
          mask.value.dispose();
          mask.value = state['head.mask']!.clone();
        },
      };
      return { ...fullFineTuning(model), appliedMethods: () => [method], mask, calibrations };
    };
    const checkpointDir = freshDir();
    const first = makeTarget();
    await train(first, { data: makeBatches(2), maxSteps: 2, learningRate: 0.05, checkpointDir, checkpointEvery: 1, keepCheckpoints: 1 });
    expect((await listCheckpoints(checkpointDir)).map((c) => c.step)).toEqual([2]);
    expect((await readdir(checkpointDir)).length).toBe(1);
    const second = makeTarget();
    const result = await train(second, { data: makeBatches(2), maxSteps: 3, learningRate: 0.05, checkpointDir, resume: true });
    expect(result.step).toBe(3);
    expect(first.calibrations).toEqual([1]);
    expect(second.calibrations).toEqual([]);
    expect(values(second.mask.value)).toEqual([3, 3]);
  });

  it('refuses to resume into a target training other parameters', async () => {
    const checkpointDir = freshDir();
    await train(fullFineTuning(makeTinyClassifier()), { data: makeBatches(2), maxSteps: 1, learningRate: 0.05, checkpointDir });
    const model = makeTinyClassifier();
    model.child('embedding').freeze();
    const target: TrainingTarget = { model, trainableParameters: () => model.trainableParameters(), appliedMethods: () => [] };
    await expect(train(target, { data: makeBatches(2), maxSteps: 2, checkpointDir, resume: true })).rejects.toMatchObject({ code: 'checkpoint-mismatch' });
  });

  it('round-trips a checkpoint file and finds the latest', async () => {
    const checkpointDir = freshDir();
    expect(await latestCheckpoint(checkpointDir)).toBeUndefined();
    const state: TrainerState = {
      formatVersion: 1, step: 7, totalSteps: 10, seed: 1, epoch: 1, batchInEpoch: 2, dataStreamState: 123, globalSeedState: 456,
      parameterNames: ['a'], optimizerSteps: {}, methods: ['m'], losses: [0.5, 0.25],
    };
    const a = tf.tensor([1, 2, 3]);
    const m = tf.tensor([4, 5, 6]);
    const mask = tf.tensor([1, 0], [2], 'int32');
    for (const step of [3, 7]) {
      await saveTrainingCheckpoint(checkpointDir, { state: { ...state, step }, parameters: { a }, optimizer: { tensors: { 'a.exp_avg': m, 'a.exp_avg_sq': m }, steps: { a: 7 } }, methodStates: [{ 'x.mask': mask }] });
    }
    const latest = await latestCheckpoint(checkpointDir);
    expect(latest).toMatch(/checkpoint-7\.safetensors$/);
    const loaded = await loadTrainingCheckpoint(latest!);
    expect(loaded.state).toEqual({ ...state, optimizerSteps: { a: 7 } });
    expect(values(loaded.parameters.a!)).toEqual([1, 2, 3]);
    expect(values(loaded.optimizer.tensors['a.exp_avg_sq']!)).toEqual([4, 5, 6]);
    expect(loaded.methodStates[0]!['x.mask']!.dtype).toBe('int32');
    tf.dispose([a, m, mask, ...Object.values(loaded.parameters), ...Object.values(loaded.optimizer.tensors), ...Object.values(loaded.methodStates[0]!)]);

    const foreign = join(checkpointDir, 'checkpoint-9.safetensors');
    const x = tf.ones([1]);
    await saveSafetensors(foreign, { x });
    x.dispose();
    await expect(loadTrainingCheckpoint(foreign)).rejects.toMatchObject({ code: 'checkpoint-mismatch' });
    await writeFile(join(checkpointDir, 'notes.txt'), 'not a checkpoint');
    expect((await listCheckpoints(checkpointDir)).map((c) => c.step)).toEqual([3, 7, 9]);
  });
});
