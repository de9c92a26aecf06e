import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, loadPeft, peft, tf, type ReferenceTransformer } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkGradientByFiniteDifferences } from '../shared/gradient-check.test-support';
import { loadHfAdapter, loadHfCase, maxAbsDifference } from '../shared/hf-fixtures.test-support';
import { paddedBatch, tinyBert, tinyGpt, weightedHiddenLoss } from '../shared/models.test-support';
import { trainOnBatch } from '../shared/training.test-support';
import { promptTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('prompt tuning', () => {
  it('prepends the soft tokens to the word embeddings: positions 0..P−1, token type 0, LayerNorm over all rows (by hand)', () => {
    const model = tinyBert();
    model.eval();
    peft(model, [promptTuning({ numVirtualTokens: 2, init: 'random', seed: 3 })]);
    const prompt = model.getParameter('embeddings.prompt.default_prompt-tuning.embedding').value;
    const ids = tf.tensor2d([[4, 9, 1]], undefined, 'int32');
    const types = tf.tensor2d([[0, 1, 1]], undefined, 'int32');
    const got = model.embeddings.forward({ inputIds: ids, tokenTypeIds: types });
    const expected = tf.tidy(() => {
      const words = tf.concat([prompt, tf.gather(model.getParameter('embeddings.word.weight').value, [4, 9, 1])], 0);
      const positions = tf.gather(model.getParameter('embeddings.position.weight').value, [0, 1, 2, 3, 4]);
      const typeRows = tf.gather(model.getParameter('embeddings.tokenType.weight').value, [0, 0, 0, 1, 1]);
      const sum = tf.add(tf.add(words, positions), typeRows);
      const mean = tf.mean(sum, -1, true);
      const variance = tf.mean(tf.square(tf.sub(sum, mean)), -1, true);
      const normed = tf.div(tf.sub(sum, mean), tf.sqrt(tf.add(variance, 1e-12)));
      return tf.add(tf.mul(normed, model.getParameter('embeddings.norm.gamma').value), model.getParameter('embeddings.norm.beta').value).reshape([1, 5, 16]);
    });
    expect(got.shape).toEqual([1, 5, 16]);
    expect(maxAbsDifference(got, expected)).toBeLessThan(1e-5);
    tf.dispose([ids, types, got, expected]);
  });

  it('initialises from the embeddings of the given token ids, repeated to P (HF TEXT)', () => {
    const model = tinyBert();
    peft(model, [promptTuning({ numVirtualTokens: 5, init: 'text', initTokenIds: [7, 2] })]);
    const prompt = model.getParameter('embeddings.prompt.default_prompt-tuning.embedding').value;
    const rows = tf.gather(model.getParameter('embeddings.word.weight').value, [7, 2, 7, 2, 7]);
    expect(maxAbsDifference(prompt, rows)).toBe(0);
    rows.dispose();
  });

  it('rejects init token ids outside the vocabulary, naming initTokenIds', () => {
    const model = tinyBert();
    expect(() => peft(model, [promptTuning({ numVirtualTokens: 2, init: 'text', initTokenIds: [400] })])).toThrowError(expect.objectContaining({ code: 'invalid-config', field: 'initTokenIds' }));
  });

  it('has tape gradients equal to finite differences on an O(1) loss (BERT, padded batch)', () => {
    const model = tinyBert();
    model.eval();
    const tuned = peft(model, [promptTuning({ numVirtualTokens: 3, init: 'random', seed: 1 })]);
    const batch = paddedBatch('classification');
    checkGradientByFiniteDifferences(tuned.trainableParameters()[0]!, weightedHiddenLoss(tuned, batch), [0, 5, 17, 30, 47]);
  });

  it('has tape gradients equal to finite differences on GPT-2', () => {
    const model = tinyGpt();
    model.eval();
    const tuned = peft(model, [promptTuning({ numVirtualTokens: 3, init: 'random', seed: 1 })]);
    const batch = paddedBatch('causal-lm');
    checkGradientByFiniteDifferences(tuned.trainableParameters()[0]!, weightedHiddenLoss(tuned, batch), [1, 8, 20, 33, 46]);
  });

  it('trains: the classification loss falls well below the frozen model’s, base weights untouched', () => {
    const model = tinyBert();
    const baseWeights = model.getParameter('encoder.layers.0.attention.query.weight').variable.dataSync().slice();
    const tuned = peft(model, [promptTuning({ numVirtualTokens: 4, init: 'random', initStd: 0.5, modulesToSave: { roles: ['head'] } })]);
    const batch = paddedBatch('classification');
    const { before, after } = trainOnBatch(tuned, batch, 40, 0.05);
    expect(after).toBeLessThan(0.3 * before);
    expect(model.getParameter('encoder.layers.0.attention.query.weight').variable.dataSync()).toEqual(baseWeights);
  });

  it('trains a GPT-2 language model through the prompt alone', () => {
    const tuned = peft(tinyGpt(), [promptTuning({ numVirtualTokens: 4, init: 'random', initStd: 0.5 })]);
    const { before, after } = trainOnBatch(tuned, paddedBatch('causal-lm'), 40, 0.05);
    expect(after).toBeLessThan(before - 0.5);
  });

  describe('HF PEFT files', () => {
    for (const name of ['bert-prompt-tuning', 'gpt2-prompt-tuning']) {
      it(`loads ${name} (HF PEFT v0.20.0) with HF's logits on a padded batch`, async () => {
        const loaded = await loadHfCase(name);
        const base = loaded.logits(loaded.base);
        expect(maxAbsDifference(base, loaded.expected.baseLogits)).toBeLessThan(1e-4);
        expect(maxAbsDifference(base, loaded.expected.logits)).toBeGreaterThan(0.05);
        const tuned = await loadHfAdapter(name, loaded, [promptTuning]);
        const logits = loaded.logits(tuned);
        expect(maxAbsDifference(logits, loaded.expected.logits)).toBeLessThan(1e-4);
        tf.dispose([base, logits]);
      });
    }

    it('writes HF files that load back to the same logits (classifier included)', async () => {
      const model = tinyBert();
      model.eval();
      const tuned = peft(model, [promptTuning({ numVirtualTokens: 3, modulesToSave: { roles: ['head'] } })]);
      for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.3, 'float32', 4))));
      const batch = paddedBatch('classification');
      const logits = tuned.forward(batch).logits;
      const dir = await mkdtemp(join(tmpdir(), 'peftjs-prompt-hf-'));
      try {
        await tuned.save(dir, { format: 'hf' });
        const fresh = tinyBert() as ReferenceTransformer;
        fresh.eval();
        const freshLogits = fresh.forward(batch).logits;
        expect(maxAbsDifference(freshLogits, logits)).toBeGreaterThan(1e-2);
        const loaded = await loadPeft(fresh, dir, { registry: createRegistry([promptTuning]) });
        loaded.model.eval();
        expect(maxAbsDifference(loaded.forward(batch).logits, logits)).toBeLessThan(1e-6);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
