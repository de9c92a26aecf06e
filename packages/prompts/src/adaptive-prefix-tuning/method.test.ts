import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peft, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkGradientByFiniteDifferences } from '../shared/gradient-check.test-support';
import { maxAbsDifference } from '../shared/hf-fixtures.test-support';
import { paddedBatch, tinyBert, tinyGpt, weightedHiddenLoss } from '../shared/models.test-support';
import { trainOnBatch } from '../shared/training.test-support';
import { AdaptivePrefix } from './adaptive-prefix';
import { adaptivePrefixTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('adaptive prefix tuning', () => {
  it('scales each prefix row by λ·σ(mean of the real positions · W + b), as computed by hand', () => {
    const key = tf.tensor2d([[1, 2], [3, 4]]);
    const value = tf.tensor2d([[-1, 0.5], [2, -2]]);
    const prefix = new AdaptivePrefix(key.clone(), value.clone(), 1.5);
    prefix.parameter('gateWeight').assign(tf.tensor2d([[0.5, -1], [2, 0.25]]));
    prefix.parameter('gateBias').assign(tf.tensor1d([0.1, -0.2]));
    const hidden = tf.tensor3d([[[1, 0], [0, 1], [9, 9]]]);
    const mask = tf.tensor2d([[1, 1, 0]]);
    const rows = prefix.forward({ batchSize: 1, hidden, attentionMask: mask });
    // Mean over the two real positions: [0.5, 0.5]; logits [0.5·0.5 + 0.5·2 + 0.1, 0.5·(−1) + 0.5·0.25 − 0.2].
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const scales = [1.5 * sigmoid(0.25 + 1 + 0.1), 1.5 * sigmoid(-0.5 + 0.125 - 0.2)];
    expect(maxAbsDifference(rows.key, [[[1 * scales[0]!, 2 * scales[0]!], [3 * scales[1]!, 4 * scales[1]!]]])).toBeLessThan(1e-6);
    expect(maxAbsDifference(rows.value, [[[-1 * scales[0]!, 0.5 * scales[0]!], [2 * scales[1]!, -2 * scales[1]!]]])).toBeLessThan(1e-6);
    tf.dispose([key, value, hidden, mask, rows.key, rows.value]);
  });

  it('has tape gradients equal to finite differences for the prefix, the gate and the layer scale', () => {
    const model = tinyBert();
    model.eval();
    const tuned = peft(model, [adaptivePrefixTuning({ numVirtualTokens: 2, initStd: 0.5 })]);
    // Move the gate off zero so its gradient is not the symmetric point's.
    for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.3, 'float32', 2))));
    const loss = weightedHiddenLoss(tuned, paddedBatch('classification'));
    const named = new Map(model.namedParameters().filter(([, parameter]) => parameter.trainable));
    const at = (suffix: string) => [...named].find(([path]) => path.startsWith('encoder.layers.1') && path.endsWith(suffix))![1];
    checkGradientByFiniteDifferences(at('.key'), loss, [0, 9, 20], { tolerance: 5e-4 });
    checkGradientByFiniteDifferences(at('.gateWeight'), loss, [0, 5, 17, 30], { tolerance: 5e-4 });
    checkGradientByFiniteDifferences(at('.layerScale'), loss, [0], { tolerance: 5e-4 });
  });

  it('trains on BERT and GPT-2', () => {
    const bert = trainOnBatch(peft(tinyBert(), [adaptivePrefixTuning({ numVirtualTokens: 3, initStd: 0.5 })]), paddedBatch('classification'), 40, 0.05);
    expect(bert.after).toBeLessThan(0.5 * bert.before);
    const gpt = trainOnBatch(peft(tinyGpt(), [adaptivePrefixTuning({ numVirtualTokens: 3, initStd: 0.5 })]), paddedBatch('causal-lm'), 40, 0.05);
    expect(gpt.after).toBeLessThan(gpt.before - 0.3);
  });

  it('has no HF PEFT format (HF PEFT has no adaptive prefix): save as hf is a typed error', async () => {
    const tuned = peft(tinyBert(), [adaptivePrefixTuning({ numVirtualTokens: 2 })]);
    const dir = await mkdtemp(join(tmpdir(), 'peftjs-adaptive-'));
    try {
      await expect(tuned.save(dir, { format: 'hf' })).rejects.toMatchObject({ code: 'not-implemented' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
