import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fullFineTuning, tf, train, type TrainOptions } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, disposeBatch } from '@peftjs/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { galore } from './galore-optimizer';

let root: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = await mkdtemp(join(tmpdir(), 'peftjs-galore-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const weights = (model: ReturnType<typeof createConformanceBert>) => model.parameters().map((parameter) => Array.from(parameter.variable.dataSync()));

describe('GaLore in the trainer', () => {
  it('a run killed after a checkpoint and resumed ends with the weights and losses of an uninterrupted run', async () => {
    const batches = [0, 1].map((seed) => conformanceBatch(createConformanceBert(), { batch: 4, seed }));
    // updateProjGap 2: the projections are refreshed on both sides of the kill at step 3.
    const options: TrainOptions = { data: batches, maxSteps: 6, learningRate: 0.01, schedule: 'constant', optimizer: galore({ rank: 4, updateProjGap: 2 }), checkpointEvery: 3 };

    const straightModel = createConformanceBert();
    const straight = await train(fullFineTuning(straightModel), options);

    const checkpointDir = join(root, 'run');
    const controller = new AbortController();
    const killedModel = createConformanceBert();
    await train(fullFineTuning(killedModel), { ...options, checkpointDir, signal: controller.signal, onEvent: (event) => event.type === 'checkpoint' && event.step === 3 && controller.abort() });
    const resumedModel = createConformanceBert();
    const resumed = await train(fullFineTuning(resumedModel), { ...options, checkpointDir, resume: true });

    expect(resumed.resumedFrom).toMatch(/checkpoint-3\.safetensors$/);
    expect(resumed.losses).toEqual(straight.losses);
    const [a, b] = [weights(straightModel), weights(resumedModel)];
    a.forEach((tensor, i) => tensor.forEach((value, j) => expect(b[i]![j]).toBeCloseTo(value, 6)));
    batches.forEach(disposeBatch);
    [straightModel, killedModel, resumedModel].forEach((model) => model.dispose());
  });
});
