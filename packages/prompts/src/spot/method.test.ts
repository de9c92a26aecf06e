import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peft, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { promptTuning } from '../prompt-tuning/method';
import { checkGradientByFiniteDifferences } from '../shared/gradient-check.test-support';
import { maxAbsDifference } from '../shared/hf-fixtures.test-support';
import { paddedBatch, tinyBert, weightedHiddenLoss } from '../shared/models.test-support';
import { trainOnBatch } from '../shared/training.test-support';
import { spot } from './method';
import { promptSimilarity } from './prompt-similarity';
import { chooseSpotSource, readSourcePrompt, type SourcePrompt } from './source-prompts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('SPoT', () => {
  it('computes both cosine similarities of the paper by hand', () => {
    const a = tf.tensor2d([[1, 0], [1, 2]]);
    const b = tf.tensor2d([[0, 1], [2, 0], [1, 1]]);
    // Average tokens: mean a = [1, 1], mean b = [1, 2/3]; cos = (1 + 2/3) / (√2 · √(1 + 4/9)).
    expect(promptSimilarity(a, b)).toBeCloseTo((1 + 2 / 3) / (Math.SQRT2 * Math.sqrt(13 / 9)), 5);
    // Per token: mean over pairs of cos(a_i, b_j).
    const cos = (x: number[], y: number[]) => (x[0]! * y[0]! + x[1]! * y[1]!) / (Math.hypot(...x) * Math.hypot(...y));
    const rowsA = [[1, 0], [1, 2]];
    const rowsB = [[0, 1], [2, 0], [1, 1]];
    const perToken = rowsA.flatMap((x) => rowsB.map((y) => cos(x, y))).reduce((s, v) => s + v, 0) / 6;
    expect(promptSimilarity(a, b, 'per-token')).toBeCloseTo(perToken, 5);
    tf.dispose([a, b]);
  });

  it('reads source prompts saved as adapters, picks the most similar and starts the target prompt from it', async () => {
    const dirs: string[] = [];
    try {
      const sources: SourcePrompt[] = [];
      for (const [name, seed] of [['task-a', 1], ['task-b', 2]] as const) {
        const tuned = peft(tinyBert(), [promptTuning({ numVirtualTokens: 3, init: 'random', seed })]);
        const dir = await mkdtemp(join(tmpdir(), `peftjs-spot-${name}-`));
        dirs.push(dir);
        await tuned.save(dir, { format: name === 'task-a' ? 'peftjs' : 'hf' });
        sources.push({ name, rows: await readSourcePrompt(dir) });
      }
      // The target's own briefly tuned prompt: near task-b's.
      const target = tf.tidy(() => tf.add(sources[1]!.rows, tf.randomNormal([3, 16], 0, 0.1, 'float32', 9)));
      const choice = chooseSpotSource(target, sources);
      expect(choice.best.name).toBe('task-b');
      expect(choice.ranking[0]!.similarity).toBeGreaterThan(choice.ranking[1]!.similarity);
      const model = tinyBert();
      peft(model, [spot(choice.config)]);
      expect(maxAbsDifference(model.getParameter('embeddings.prompt.default_spot.embedding').value, sources[1]!.rows)).toBe(0);
    } finally {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    }
  });

  it('has tape gradients equal to finite differences and trains', () => {
    const model = tinyBert();
    model.eval();
    const source = Array.from({ length: 3 }, (_, i) => Array.from({ length: 16 }, (_, j) => Math.cos(i + 3 * j)));
    const tuned = peft(model, [spot({ numVirtualTokens: 3, sourceRows: source })]);
    checkGradientByFiniteDifferences(tuned.trainableParameters()[0]!, weightedHiddenLoss(tuned, paddedBatch('classification')), [0, 13, 29, 44]);
    const { before, after } = trainOnBatch(tuned, paddedBatch('classification'), 40, 0.05);
    expect(after).toBeLessThan(0.5 * before);
  });
});
