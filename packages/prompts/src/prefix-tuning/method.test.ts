import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultiHeadAttention, createRegistry, gate, loadPeft, peft, tf, type ReferenceTransformer } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pTuningV2 } from '../p-tuning-v2/method';
import { checkGradientByFiniteDifferences } from '../shared/gradient-check.test-support';
import { loadHfAdapter, loadHfCase, maxAbsDifference } from '../shared/hf-fixtures.test-support';
import { paddedBatch, tinyBert, tinyGpt, weightedHiddenLoss } from '../shared/models.test-support';
import { trainOnBatch } from '../shared/training.test-support';
import { PlainPrefix } from './layer-prefix';
import { prefixTuning } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** softmax(q·[Pk; K]ᵀ/√d + mask)·[Pv; V] for one head, by loops over plain arrays. */
function attendByHand(q: number[][], k: number[][], v: number[][], allowed: (query: number, key: number) => boolean): number[][] {
  const d = q[0]!.length;
  return q.map((row, i) => {
    const scores = k.map((key, j) => (allowed(i, j) ? row.reduce((s, x, t) => s + x * key[t]!, 0) / Math.sqrt(d) : -Infinity));
    const top = Math.max(...scores);
    const weights = scores.map((s) => Math.exp(s - top));
    const total = weights.reduce((a, b) => a + b, 0);
    return v[0]!.map((_, t) => weights.reduce((s, w, j) => s + (w / total) * v[j]![t]!, 0));
  });
}

describe('prefix tuning', () => {
  for (const causal of [false, true]) {
    it(`attends over the prefix rows as computed by hand (${causal ? 'causal, GPT-2 style' : 'bidirectional, padded: the mask is extended with ones'})`, () => {
      const attention = new MultiHeadAttention({ hiddenSize: 2, numHeads: 1, attentionDropout: 0, outputDropout: 0, fusedQkv: false, causal, initStd: 1 });
      attention.eval();
      const eye = tf.tensor2d([[1, 0], [0, 1]]);
      for (const name of ['query', 'key', 'value', 'output']) {
        attention.getParameter(`${name}.weight`).assign(eye);
      }
      const prefixKey = [[1, -1], [0.5, 2]];
      const prefixValue = [[3, 1], [-2, 0.5]];
      attention.setPrefix(new PlainPrefix(tf.tensor2d(prefixKey), tf.tensor2d(prefixValue)));
      const x = [[0.3, -0.7], [1.2, 0.4], [-0.5, 0.9]];
      const mask = [1, 1, 0];
      const out = tf.tidy(() => attention.forward(tf.tensor3d([x]), { attentionMask: tf.tensor2d([mask]) }).arraySync() as number[][][]);
      const keys = [...prefixKey, ...x];
      const values = [...prefixValue, ...x];
      const expected = attendByHand(x, keys, values, (i, j) => j < 2 || (mask[j - 2] === 1 && (!causal || j - 2 <= i)));
      expect(maxAbsDifference(tf.tensor2d(out[0]!), expected)).toBeLessThan(1e-5);
      eye.dispose();
    });
  }

  it('starts GPT-2 positions after the prefix (HF past_key_values length) and leaves a prefix-free model at 0', () => {
    const model = tinyGpt();
    expect((model as unknown as { prefixPositionOffset(): number }).prefixPositionOffset()).toBe(0);
    peft(model, [prefixTuning({ numVirtualTokens: 3 })]);
    expect((model as unknown as { prefixPositionOffset(): number }).prefixPositionOffset()).toBe(3);
  });

  it('lays its HF prompt_embeddings out layer-major, keys then values (HF get_prompt order)', () => {
    const model = tinyBert();
    const tuned = peft(model, [prefixTuning({ numVirtualTokens: 2 })]);
    const files = tuned.appliedMethods()[0]!.exportHf!();
    const table = files.tensors.prompt_embeddings!;
    expect(table.shape).toEqual([2, 2 * 2 * 16]);
    const layer1Value = model.getParameter('encoder.layers.1.attention.prefix.default_prefix-tuning.value').value;
    expect(maxAbsDifference(table.slice([0, 3 * 16], [-1, 16]), layer1Value)).toBe(0);
    tf.dispose(Object.values(files.tensors));
  });

  it('has tape gradients equal to finite differences (BERT, padded batch; GPT-2 through the MLP)', () => {
    const bert = tinyBert();
    bert.eval();
    const tunedBert = peft(bert, [prefixTuning({ numVirtualTokens: 2, initStd: 0.5 })]);
    checkGradientByFiniteDifferences(tunedBert.trainableParameters()[1]!, weightedHiddenLoss(tunedBert, paddedBatch('classification')), [0, 7, 19, 30], { tolerance: 5e-4 });
    const gpt = tinyGpt();
    gpt.eval();
    const tunedGpt = peft(gpt, [prefixTuning({ numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8, initStd: 0.5 })]);
    const embedding = tunedGpt.trainableParameters().find((parameter) => parameter.shape.length === 2 && parameter.shape[0] === 2 && parameter.shape[1] === 16)!;
    checkGradientByFiniteDifferences(embedding, weightedHiddenLoss(tunedGpt, paddedBatch('causal-lm')), [0, 9, 21, 31], { tolerance: 5e-4 });
  });

  it('trains on BERT and GPT-2, with and without the reparametrization', () => {
    const bert = trainOnBatch(peft(tinyBert(), [prefixTuning({ numVirtualTokens: 3, initStd: 0.5 })]), paddedBatch('classification'), 40, 0.05);
    expect(bert.after).toBeLessThan(0.5 * bert.before);
    const gpt = trainOnBatch(peft(tinyGpt(), [prefixTuning({ numVirtualTokens: 3, prefixProjection: true, initStd: 0.5 })]), paddedBatch('causal-lm'), 40, 0.02);
    expect(gpt.after).toBeLessThan(gpt.before - 0.5);
  });

  it('trains gated (UniPELT): peft(model, [prefixTuning(...), gate({ methods: ["prefix-tuning"] })])', () => {
    const model = tinyBert();
    const tuned = peft(model, [prefixTuning({ numVirtualTokens: 3, initStd: 0.5 }), gate({ methods: ['prefix-tuning'] })]);
    const gateWeights = tuned.appliedMethods()[1]!.parameters();
    expect(gateWeights.length).toBeGreaterThan(0);
    const before = gateWeights[0]!.variable.dataSync().slice();
    const result = trainOnBatch(tuned, paddedBatch('classification'), 40, 0.05);
    expect(result.after).toBeLessThan(0.5 * result.before);
    expect(maxAbsDifference(gateWeights[0]!.variable, tf.tensor(before, gateWeights[0]!.shape))).toBeGreaterThan(1e-3);
  });

  it('P-tuning v2 trains deep prompts and the classification head', () => {
    const tuned = peft(tinyBert(), [pTuningV2({ numVirtualTokens: 3, initStd: 0.5 })]);
    expect(tuned.trainableParameters().some((parameter) => parameter.shape.join() === '16,3')).toBe(true);
    const result = trainOnBatch(tuned, paddedBatch('classification'), 40, 0.05);
    expect(result.after).toBeLessThan(0.3 * result.before);
  });

  describe('HF PEFT files', () => {
    for (const name of ['bert-prefix-tuning', 'bert-prefix-projection', 'gpt2-prefix-tuning', 'gpt2-prefix-projection']) {
      it(`loads ${name} (HF PEFT v0.20.0) with HF's logits on a padded batch`, async () => {
        const loaded = await loadHfCase(name);
        const base = loaded.logits(loaded.base);
        expect(maxAbsDifference(base, loaded.expected.baseLogits)).toBeLessThan(1e-4);
        expect(maxAbsDifference(base, loaded.expected.logits)).toBeGreaterThan(0.05);
        const tuned = await loadHfAdapter(name, loaded, [prefixTuning]);
        const logits = loaded.logits(tuned);
        expect(maxAbsDifference(logits, loaded.expected.logits)).toBeLessThan(1e-4);
        tf.dispose([base, logits]);
      });
    }

    it('saves a reparametrized prefix as the computed plain prefix, which loads to the same logits', async () => {
      const model = tinyGpt();
      model.eval();
      const tuned = peft(model, [prefixTuning({ numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8, initStd: 0.5 })]);
      const batch = paddedBatch('causal-lm');
      const logits = tuned.forward(batch).logits;
      const dir = await mkdtemp(join(tmpdir(), 'peftjs-prefix-hf-'));
      try {
        await tuned.save(dir, { format: 'hf' });
        const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
        expect(config).toMatchObject({ peft_type: 'PREFIX_TUNING', prefix_projection: true, num_layers: 2, token_dim: 16, num_attention_heads: 2, task_type: 'CAUSAL_LM' });
        const fresh = tinyGpt() as ReferenceTransformer;
        fresh.eval();
        expect(maxAbsDifference(fresh.forward(batch).logits, logits)).toBeGreaterThan(1e-2);
        const loaded = await loadPeft(fresh, dir, { registry: createRegistry([prefixTuning]) });
        loaded.model.eval();
        expect(loaded.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(2 * 2 * 2 * 16);
        expect(maxAbsDifference(loaded.forward(batch).logits, logits)).toBeLessThan(1e-5);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
