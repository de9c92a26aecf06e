import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import type { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import type { GptConfigInput } from './config';
import { createGpt } from './gpt-model';
import { checkGradients, expectClose, randomTensor, values } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const tiny: GptConfigInput = { vocabSize: 12, hiddenSize: 8, numLayers: 2, numHeads: 2, maxPositions: 16, hiddenDropout: 0, attentionDropout: 0, initStd: 0.2 };

function inputs() {
  return {
    inputIds: tf.tensor2d([[2, 7, 5, 0], [3, 9, 11, 4]], undefined, 'int32'),
    attentionMask: tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 1]], undefined, 'int32'),
  };
}

const nll = (row: number[], label: number) => {
  const max = Math.max(...row);
  return Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max - row[label]!;
};

describe('GptModel', () => {
  it('has GPT-2 module paths, roles and HF names', () => {
    const model = createGpt({ ...tiny, numLayers: 4 });
    const roles = Object.fromEntries(model.namedModules().map(([path, module]) => [path, module.role]));
    expect(roles).toMatchObject({
      'embeddings.word': 'embedding.token',
      'embeddings.position': 'embedding.position',
      'decoder.layers.3.attentionNorm': 'norm.attention',
      'decoder.layers.3.attention.qkv': 'attention.qkv',
      'decoder.layers.3.attention.output': 'attention.output',
      'decoder.layers.3.ffnNorm': 'norm.ffn',
      'decoder.layers.3.ffn.up': 'ffn.up',
      'decoder.layers.3.ffn.down': 'ffn.down',
      'decoder.finalNorm': 'norm.final',
      head: 'head',
    });
    expect(roles['embeddings.tokenType']).toBeUndefined();
    expect(roles['embeddings.norm']).toBeUndefined();
    expect(model.getModule<Linear>('decoder.layers.0.attention.qkv').weight.shape).toEqual([8, 24]);
    const names: Record<string, string> = {
      'decoder.layers.3.attention.qkv': 'transformer.h.3.attn.c_attn',
      'decoder.layers.3.attention.output': 'transformer.h.3.attn.c_proj',
      'decoder.layers.3.ffn.up': 'transformer.h.3.mlp.c_fc',
      'decoder.layers.3.ffn.down': 'transformer.h.3.mlp.c_proj',
      'decoder.layers.3.attentionNorm': 'transformer.h.3.ln_1',
      'decoder.layers.3.ffnNorm': 'transformer.h.3.ln_2',
      'decoder.finalNorm': 'transformer.ln_f',
      'embeddings.word': 'transformer.wte',
      'embeddings.position': 'transformer.wpe',
      'decoder.layers.3.attention': 'transformer.h.3.attn',
      head: 'lm_head',
    };
    for (const [path, name] of Object.entries(names)) expect(model.hfModuleName(path)).toBe(name);
    expect(createGpt({ ...tiny, task: 'sequence-classification' }).hfModuleName('head.score')).toBe('score');
    expect(() => model.hfModuleName('decoder.layers.3.attention.prefix')).toThrow(PeftError);
  });

  it('causal LM logits are the final-normed states times the tied word embeddings, and never see later tokens', () => {
    const model = createGpt(tiny);
    const batch = inputs();
    const output = model.forward({ ...batch, outputHiddenStates: true });
    expect(output.logits.shape).toEqual([2, 4, 12]);
    const table = model.getParameter('embeddings.word.weight').value;
    expectClose(values(output.logits), values(tf.matMul(output.lastHiddenState.reshape([8, 8]), table, false, true)), 1e-5);
    // HF GPT-2 reports ln_f(last block output) as the last hidden state.
    expect(output.hiddenStates).toHaveLength(3);
    const lastBlock = model.layers()[1]!.forward(output.hiddenStates![1]!, { attentionMask: batch.attentionMask.toFloat() });
    expectClose(values(output.hiddenStates![2]!), values(model.getModule('decoder.finalNorm').forward(lastBlock)), 1e-5);
    const changed = model.forward({ ...batch, inputIds: tf.tensor2d([[2, 7, 1, 0], [3, 9, 11, 4]], undefined, 'int32') });
    expectClose(values(changed.logits.slice([0, 0, 0], [1, 2, 12])), values(output.logits.slice([0, 0, 0], [1, 2, 12])), 1e-6);
    expect(Math.abs(values(changed.logits.slice([0, 2, 0], [1, 1, 12]))[0]! - values(output.logits.slice([0, 2, 0], [1, 1, 12]))[0]!)).toBeGreaterThan(1e-6);
  });

  it('causal LM loss predicts token t+1 from position t, skipping -100 and masked targets', () => {
    const model = createGpt(tiny);
    const batch = inputs();
    const output = model.forward(batch);
    const rows = output.logits.arraySync() as number[][][];
    const labels = tf.tensor2d([[2, 7, 5, 0], [3, -100, 11, 4]], undefined, 'int32');
    // Example 0: targets 7, 5 (token 3 is padding); example 1: targets 11, 4 (label 1 is -100).
    const expected = (nll(rows[0]![0]!, 7) + nll(rows[0]![1]!, 5) + nll(rows[1]![1]!, 11) + nll(rows[1]![2]!, 4)) / 4;
    expect(model.taskLoss(output, labels, batch.attentionMask).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it('strips prompt rows from causal LM logits; the prompt sees no later token and shifts positions', () => {
    const model = createGpt(tiny);
    const batch = inputs();
    const plain = model.forward(batch);
    const prompt = Object.assign(
      new (class extends Module<[{ batchSize: number }], tf.Tensor> {
        constructor() {
          super();
          this.registerParameter('table', new Parameter(randomTensor([1, 2, 8], 5)));
        }
        forward({ batchSize }: { batchSize: number }) {
          return tf.tile(this.parameter('table').value, [batchSize, 1, 1]);
        }
      })(),
      { length: 2 },
    );
    model.embeddings.setPrompt(prompt);
    const output = model.forward(batch);
    expect(output.promptLength).toBe(2);
    expect(output.logits.shape).toEqual([2, 4, 12]);
    expect(output.lastHiddenState.shape).toEqual([2, 6, 8]);
    const table = model.getParameter('embeddings.word.weight').value;
    const real = output.lastHiddenState.slice([0, 2, 0], [2, 4, 8]).reshape([8, 8]);
    expectClose(values(output.logits), values(tf.matMul(real, table, false, true)), 1e-5);
    expect(Math.max(...values(tf.abs(tf.sub(output.logits, plain.logits))))).toBeGreaterThan(1e-4);
  });

  it('sequence classification scores the last real token without bias', () => {
    const model = createGpt({ ...tiny, task: 'sequence-classification', numLabels: 3 });
    expect(model.getModule<Linear>('head.score').bias).toBeUndefined();
    const batch = inputs();
    const output = model.forward(batch);
    expect(output.logits.shape).toEqual([2, 3]);
    const last = tf.concat([output.lastHiddenState.slice([0, 2, 0], [1, 1, 8]), output.lastHiddenState.slice([1, 3, 0], [1, 1, 8])]).reshape([2, 8]);
    expectClose(values(output.logits), values(model.getModule('head.score').forward(last)), 1e-6);
    const labels = tf.tensor1d([2, 0], 'int32');
    const rows = output.logits.arraySync() as number[][];
    expect(model.taskLoss(output, labels).dataSync()[0]).toBeCloseTo((nll(rows[0]!, 2) + nll(rows[1]!, 0)) / 2, 5);
  });

  it('has full-model gradients that match finite differences (causal LM loss)', () => {
    const model = createGpt({ ...tiny, numLayers: 1 });
    const batch = inputs();
    const labels = batch.inputIds;
    const loss = () => model.taskLoss(model.forward(batch), labels, batch.attentionMask);
    const variables = model
      .namedParameters()
      .filter(([path]) => !path.startsWith('embeddings.position'))
      .map(([path, p]) => [path, p.variable] as const);
    expect(checkGradients(loss, variables, { samples: 1, seed: 5 })).toBe(variables.length);
  });

  it('leaks no tensors across repeated forward + gradients', () => {
    const model = createGpt({ ...tiny, hiddenDropout: 0.1, attentionDropout: 0.1 });
    const batch = inputs();
    const step = () => {
      const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward(batch), batch.inputIds, batch.attentionMask));
      value.dispose();
      tf.dispose(grads);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects token types and invalid configs', () => {
    const model = createGpt(tiny);
    expect(() => model.forward({ ...inputs(), tokenTypeIds: tf.zeros([2, 4], 'int32') })).toThrow(PeftError);
    expect(() => createGpt({ typeVocabSize: 2 })).toThrow(/typeVocabSize/);
    expect(() => createGpt({ task: 'masked-lm' as never })).toThrow(PeftError);
    const defaults = createGpt().config;
    expect([defaults.activation, defaults.layerNormEps, defaults.preLayerNorm, defaults.embeddingDropout]).toEqual(['gelu_new', 1e-5, true, 0.1]);
  });
});
