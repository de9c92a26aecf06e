import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, loadPeft, peft, setGlobalSeed, tf, type ReferenceTransformer } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkGradientByFiniteDifferences } from '../shared/gradient-check.test-support';
import { loadHfAdapter, loadHfCase, maxAbsDifference } from '../shared/hf-fixtures.test-support';
import { paddedBatch, tinyBert, tinyGpt, weightedHiddenLoss } from '../shared/models.test-support';
import { trainOnBatch } from '../shared/training.test-support';
import { pTuning } from './method';
import { LstmPromptEncoder } from './prompt-encoders';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** One LSTM direction by scalar loops: gates i, f, g, o from x·Wi + h·Wh + b. */
function lstmByHand(xs: number[][], wi: number[][], wh: number[][], b: number[], reverse: boolean): number[][] {
  const h = wh.length;
  let hidden = new Array<number>(h).fill(0);
  let cell = new Array<number>(h).fill(0);
  const out: number[][] = new Array<number[]>(xs.length);
  const order = xs.map((_, i) => (reverse ? xs.length - 1 - i : i));
  for (const t of order) {
    const gates = b.map((bias, j) => bias + xs[t]!.reduce((s, x, k) => s + x * wi[k]![j]!, 0) + hidden.reduce((s, y, k) => s + y * wh[k]![j]!, 0));
    const next = Array.from({ length: h }, (_, j) => sigmoid(gates[h + j]!) * cell[j]! + sigmoid(gates[j]!) * Math.tanh(gates[2 * h + j]!));
    hidden = next.map((c, j) => sigmoid(gates[3 * h + j]!) * Math.tanh(c));
    cell = next;
    out[t] = hidden;
  }
  return out;
}

describe('P-tuning', () => {
  it('runs the bidirectional LSTM encoder as computed by hand (one layer)', () => {
    setGlobalSeed(3);
    const encoder = new LstmPromptEncoder({ inputSize: 3, hiddenSize: 2, outputSize: 3, numLayers: 1, dropout: 0 });
    const xs = [[0.5, -1, 0.2], [1.5, 0.3, -0.4], [-0.7, 0.8, 1.1]];
    const read = (path: string) => encoder.getParameter(path).value.arraySync() as never;
    const forwardStates = lstmByHand(xs, read('forward0.inputWeight'), read('forward0.hiddenWeight'), read('forward0.bias'), false);
    const backwardStates = lstmByHand(xs, read('backward0.inputWeight'), read('backward0.hiddenWeight'), read('backward0.bias'), true);
    const states = tf.tensor2d(forwardStates.map((row, t) => [...row, ...backwardStates[t]!]));
    const expected = tf.tidy(() => encoder.child('mlp2').forward(tf.relu(encoder.child('mlp1').forward(states))));
    const got = encoder.forward(tf.tensor2d(xs));
    expect(maxAbsDifference(got, expected)).toBeLessThan(1e-5);
    expect(maxAbsDifference(tf.sub(got, got), expected)).toBeGreaterThan(1e-3);
  });

  it('has tape gradients equal to finite differences through the MLP and LSTM encoders', () => {
    for (const encoder of ['mlp', 'lstm'] as const) {
      const model = tinyBert();
      model.eval();
      const tuned = peft(model, [pTuning({ numVirtualTokens: 3, encoder, encoderHiddenSize: 8 })]);
      const table = tuned.trainableParameters().find((parameter) => parameter.shape.join() === '3,16')!;
      checkGradientByFiniteDifferences(table, weightedHiddenLoss(tuned, paddedBatch('classification')), [0, 11, 25, 40], { tolerance: 5e-4 });
    }
  });

  it('trains on BERT (MLP) and GPT-2 (LSTM)', () => {
    const bert = trainOnBatch(peft(tinyBert(), [pTuning({ numVirtualTokens: 3 })]), paddedBatch('classification'), 40, 0.02);
    expect(bert.after).toBeLessThan(0.5 * bert.before);
    const gpt = trainOnBatch(peft(tinyGpt(), [pTuning({ numVirtualTokens: 3, encoder: 'lstm', encoderHiddenSize: 8 })]), paddedBatch('causal-lm'), 40, 0.02);
    expect(gpt.after).toBeLessThan(gpt.before - 0.3);
  });

  describe('HF PEFT files', () => {
    for (const name of ['bert-p-tuning', 'gpt2-p-tuning-lstm']) {
      it(`loads ${name} (HF PEFT v0.20.0) with HF's logits on a padded batch`, async () => {
        const loaded = await loadHfCase(name);
        const base = loaded.logits(loaded.base);
        expect(maxAbsDifference(base, loaded.expected.baseLogits)).toBeLessThan(1e-4);
        expect(maxAbsDifference(base, loaded.expected.logits)).toBeGreaterThan(0.05);
        const tuned = await loadHfAdapter(name, loaded, [pTuning]);
        const logits = loaded.logits(tuned);
        expect(maxAbsDifference(logits, loaded.expected.logits)).toBeLessThan(1e-4);
        tf.dispose([base, logits]);
      });
    }

    it("writes the LSTM encoder's output as HF's table, which loads to the same logits", async () => {
      const model = tinyGpt();
      model.eval();
      const tuned = peft(model, [pTuning({ numVirtualTokens: 3, encoder: 'lstm', encoderHiddenSize: 8 })]);
      const batch = paddedBatch('causal-lm');
      const logits = tuned.forward(batch).logits;
      const dir = await mkdtemp(join(tmpdir(), 'peftjs-p-tuning-hf-'));
      try {
        await tuned.save(dir, { format: 'hf' });
        const fresh = tinyGpt() as ReferenceTransformer;
        fresh.eval();
        expect(maxAbsDifference(fresh.forward(batch).logits, logits)).toBeGreaterThan(1e-2);
        const loaded = await loadPeft(fresh, dir, { registry: createRegistry([pTuning]) });
        loaded.model.eval();
        expect(maxAbsDifference(loaded.forward(batch).logits, logits)).toBeLessThan(1e-5);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
