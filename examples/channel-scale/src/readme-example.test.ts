import { batchExamples, createBert, exampleBatches, initBackend, loadHfBert, peft, saveHfBert, setGlobalSeed, train, type Example } from '@peftjs/core';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { channelScale } from './method';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A task a linear read-out of the embeddings can solve: is token 7 in the sequence? */
function examples(count: number, seed: number): Example[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () => {
    const inputIds = [1, ...Array.from({ length: 6 }, () => 8 + Math.floor(next() * 40))];
    const label = next() < 0.5 ? 1 : 0;
    if (label) inputIds[1 + Math.floor(next() * 6)] = 7;
    return { inputIds, labels: label };
  });
}

describe('the README example', () => {
  it('loads an HF checkpoint, applies a method, trains, and saves the adapter', async () => {
    // What the README assumes exists: an HF-layout BERT checkpoint on disk.
    const checkpoint = await mkdtemp(join(tmpdir(), 'bert-tiny-'));
    const adapterDir = await mkdtemp(join(tmpdir(), 'my-adapter-'));
    dirs.push(checkpoint, adapterDir);
    setGlobalSeed(3);
    const pretrained = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 16, initStd: 0.3 });
    await saveHfBert(pretrained, checkpoint);
    pretrained.dispose();
    const trainExamples = examples(64, 1);
    const evalExamples = examples(64, 2);

    // --- the README's lines ---
    const backend = await initBackend({ prefer: 'cpu' });
    const { model } = await loadHfBert(checkpoint, { task: 'sequence-classification', numLabels: 2 });
    const tuned = peft(model, [channelScale({ targets: { roles: ['all-linear', 'pooler', 'head'] } })]);
    const report = tuned.formatReport();
    const result = await train(tuned, {
      data: exampleBatches(trainExamples, { batchSize: 16 }),
      evalData: batchExamples(evalExamples, { batchSize: 64 }),
      maxSteps: 150,
      learningRate: 1e-1,
    });
    await tuned.save(adapterDir);
    // --- end ---

    expect(backend.name).toBe('cpu');
    expect(report).toMatch(/trainable/i);
    const final = result.evaluations.at(-1)!.metrics;
    // Half the eval examples contain token 7: chance is 0.5; the scales reach 0.78 here on cpu.
    expect(final.accuracy).toBeGreaterThan(0.7);
    expect((await readdir(adapterDir)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    model.dispose();
  });
});
