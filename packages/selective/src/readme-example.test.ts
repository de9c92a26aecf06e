import { createBert, exampleBatches, peft, setGlobalSeed, tf, train, type Example } from '@peftjs/core';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bitfit, lnTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Is token 7 in the sequence? Solvable by a read-out of the embeddings. */
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
  it('applies BitFit, trains, saves, and composes with ln-tuning', async () => {
    const trainExamples = examples(64, 1);
    const dir = await mkdtemp(join(tmpdir(), 'my-bitfit-adapter-'));
    setGlobalSeed(2);
    // --- the README's lines ---
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 1, numHeads: 2, maxPositions: 16, initStd: 0.3 }); // or loadHfBert(dir, ...)
    const tuned = peft(model, [bitfit()]);
    const report = tuned.formatReport();
    const result = await train(tuned, { data: exampleBatches(trainExamples, { batchSize: 16 }), maxSteps: 100, learningRate: 5e-2 });
    await tuned.save(dir);
    const composed = peft(createBert({ hiddenSize: 16, numHeads: 2 }), [bitfit(), lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'] })]);
    // --- end ---
    expect(report).toMatch(/trainable/i);
    // Bias terms: 4h + 4h (up) + h (down) + 2h (block norms) + h (embedding norm) + h (pooler) = 13h, h = 16;
    // head 2h + 2. Of (50 + 16 + 2)·h + 2h (embedding norm) + 4h² + 4h + 8h² + 5h + 4h (block) + h² + h + 2h + 2 parameters.
    const h = 16;
    const total = 68 * h + 2 * h + 12 * h * h + 13 * h + h * h + 3 * h + 2;
    expect(tuned.report().trainable).toBe(13 * h + 2 * h + 2);
    expect(tuned.report().total).toBe(total);
    // The training loss falls from 1.37 to chance level (0.69) here; fitting beyond it is method.test.ts's job.
    expect(result.losses.at(-1)!).toBeLessThan(0.6 * result.losses[0]!);
    expect((await readdir(dir)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(composed.appliedMethods()).toHaveLength(2);
    composed.model.dispose();
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  });
});
