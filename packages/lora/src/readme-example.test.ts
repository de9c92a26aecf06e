import { batchExamples, createBert, exampleBatches, initBackend, loadPeft, peft, setGlobalSeed, tf, train, type Example } from '@peftjs/core';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lora } from './index';
import './register';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A task the frozen random encoder cannot solve: is token 7 in the sequence? */
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
  it('applies LoRA with a trained head, trains, merges, saves in HF format and loads back', async () => {
    const adapterDir = await mkdtemp(join(tmpdir(), 'lora-readme-'));
    dirs.push(adapterDir);
    const makeBase = () => {
      setGlobalSeed(3);
      return createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 16, numLabels: 2, hiddenDropout: 0, attentionDropout: 0, initStd: 0.3 });
    };
    const trainExamples = examples(64, 1);
    const evalBatches = batchExamples(examples(64, 2), { batchSize: 64 });

    // --- the README's lines ---
    await initBackend({ prefer: 'cpu' });
    const model = makeBase();
    const tuned = peft(model, [lora({ r: 8, alpha: 16, targets: { roles: ['all-linear'] }, modulesToSave: { roles: ['head'] } })]);
    const report = tuned.formatReport();
    const result = await train(tuned, { data: exampleBatches(trainExamples, { batchSize: 16 }), evalData: evalBatches, maxSteps: 150, learningRate: 2e-2 });
    tuned.merge();
    tuned.unmerge();
    await tuned.save(adapterDir, { format: 'hf' });
    const again = await loadPeft(makeBase(), adapterDir);
    // --- end ---

    expect(report).toMatch(/trainable/i);
    const accuracy = result.evaluations.at(-1)!.metrics.accuracy!;
    console.info(`README example: eval accuracy ${accuracy.toFixed(3)} (chance 0.5).`);
    expect(accuracy).toBeGreaterThan(0.7);
    expect((await readdir(adapterDir)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    tuned.model.eval();
    again.model.eval();
    const batch = evalBatches[0]!;
    const [a, b] = [tuned, again].map((m) => tf.tidy(() => m.forward(batch).logits.dataSync()));
    a!.forEach((value, i) => expect(Math.abs(value - b![i]!)).toBeLessThan(1e-5));
    model.dispose();
    again.model.dispose();
    tf.dispose(evalBatches.flatMap((x) => [x.inputIds, x.attentionMask ?? [], x.labels ?? []]));
  });
});
