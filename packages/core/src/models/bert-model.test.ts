import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { gelu } from '../nn/activations';
import type { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { createBert, type BertModel } from './bert-model';
import type { BertConfigInput } from './config';
import type { MultiHeadAttention } from './multi-head-attention';
import type { LayerContext, LayerRunner, PrefixKeyValue, Sublayer } from './slots';
import { checkGradients, expectClose, randomTensor, values } from './test-support';
import type { TransformerBlock } from './transformer-block';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const tiny: BertConfigInput = { vocabSize: 20, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 16, hiddenDropout: 0, attentionDropout: 0, initStd: 0.2 };

function inputs() {
  return {
    inputIds: tf.tensor2d([[2, 7, 5, 0], [3, 9, 11, 4]], undefined, 'int32'),
    attentionMask: tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 1]], undefined, 'int32'),
    tokenTypeIds: tf.tensor2d([[0, 0, 1, 1], [0, 1, 1, 1]], undefined, 'int32'),
  };
}

/** embeddings -> each block, written as calls of the parts, in a given order. */
function manualHidden(model: BertModel, order: number[], batch = inputs()): tf.Tensor {
  let hidden = model.embeddings.forward({ inputIds: batch.inputIds, tokenTypeIds: batch.tokenTypeIds });
  const context = { attentionMask: batch.attentionMask.toFloat() };
  for (const index of order) hidden = model.layers()[index]!.forward(hidden, context);
  return hidden;
}

class AddConstant extends Module<[tf.Tensor, LayerContext], tf.Tensor> {
  constructor(
    inner: Sublayer,
    private readonly constant: tf.Tensor,
  ) {
    super();
    this.registerModule('inner', inner);
  }
  forward(x: tf.Tensor, context: LayerContext): tf.Tensor {
    return tf.tidy(() => tf.add(this.child('inner').forward(x, context), this.constant));
  }
}

describe('BertModel', () => {
  it('has the module paths and roles the other packages rely on', () => {
    const model = createBert({ ...tiny, numLayers: 1 });
    const roles = Object.fromEntries(model.namedModules().map(([path, module]) => [path, module.role]));
    expect(roles).toMatchObject({
      '': 'model',
      embeddings: 'embeddings',
      'embeddings.word': 'embedding.token',
      'embeddings.position': 'embedding.position',
      'embeddings.tokenType': 'embedding.type',
      'embeddings.norm': 'norm.embedding',
      'encoder.layers.0': 'block',
      'encoder.layers.0.attention': 'attention',
      'encoder.layers.0.attention.query': 'attention.query',
      'encoder.layers.0.attention.key': 'attention.key',
      'encoder.layers.0.attention.value': 'attention.value',
      'encoder.layers.0.attention.output': 'attention.output',
      'encoder.layers.0.attentionNorm': 'norm.attention',
      'encoder.layers.0.ffn': 'ffn',
      'encoder.layers.0.ffn.up': 'ffn.up',
      'encoder.layers.0.ffn.down': 'ffn.down',
      'encoder.layers.0.ffnNorm': 'norm.ffn',
      pooler: 'pooler',
      'pooler.dense': 'pooler',
      head: 'head',
      'head.classifier': 'head',
    });
    expect(roles['encoder.finalNorm']).toBeUndefined();
    expect(createBert({ ...tiny, preLayerNorm: true }).getModule('encoder.finalNorm').role).toBe('norm.final');
    const kinds = Object.fromEntries(model.namedParameters().map(([path, p]) => [path, p.kind]));
    expect(kinds).toMatchObject({ 'encoder.layers.0.attention.query.weight': 'weight', 'encoder.layers.0.attention.query.bias': 'bias', 'embeddings.norm.gamma': 'gamma', 'embeddings.norm.beta': 'beta' });
  });

  it('maps module paths to HF transformers names', () => {
    const model = createBert({ ...tiny, numLayers: 4 });
    expect(model.hfModuleName('encoder.layers.3.attention.query')).toBe('bert.encoder.layer.3.attention.self.query');
    expect(model.hfModuleName('encoder.layers.3.attention.output')).toBe('bert.encoder.layer.3.attention.output.dense');
    expect(model.hfModuleName('encoder.layers.3.attentionNorm')).toBe('bert.encoder.layer.3.attention.output.LayerNorm');
    expect(model.hfModuleName('encoder.layers.3.ffn.up')).toBe('bert.encoder.layer.3.intermediate.dense');
    expect(model.hfModuleName('encoder.layers.3.ffn.down')).toBe('bert.encoder.layer.3.output.dense');
    expect(model.hfModuleName('encoder.layers.3.ffnNorm')).toBe('bert.encoder.layer.3.output.LayerNorm');
    expect(model.hfModuleName('embeddings.word')).toBe('bert.embeddings.word_embeddings');
    expect(model.hfModuleName('pooler.dense')).toBe('bert.pooler.dense');
    expect(model.hfModuleName('head.classifier')).toBe('classifier');
    expect(model.hfModuleName('encoder.layers.3.attention')).toBe('bert.encoder.layer.3.attention');
    expect(() => model.hfModuleName('embeddings.prompt')).toThrow(PeftError);
    expect(createBert({ ...tiny, task: 'masked-lm' }).hfModuleName('head.transform')).toBe('cls.predictions.transform.dense');
  });

  it('sequence classification: classifier(tanh(pooler(h[:, 0]))) over the encoder run with the padding mask', () => {
    const model = createBert({ ...tiny, numLabels: 3 });
    const output = model.forward(inputs());
    const hidden = manualHidden(model, [0, 1]);
    expectClose(values(output.lastHiddenState), values(hidden), 1e-6);
    const pooled = tf.tanh(model.getModule('pooler.dense').forward(hidden.slice([0, 0, 0], [2, 1, 8]).reshape([2, 8])));
    expectClose(values(output.logits), values(model.getModule('head.classifier').forward(pooled)), 1e-6);
    expect(output.logits.shape).toEqual([2, 3]);
    // The padding mask matters: the padded token changes nothing for example 0 only when masked.
    const unmasked = model.forward({ ...inputs(), attentionMask: undefined });
    expect(Math.abs(values(unmasked.logits)[0]! - values(output.logits)[0]!)).toBeGreaterThan(1e-5);
  });

  it('returns numLayers + 1 hidden states: the embeddings output, then each block output', () => {
    const model = createBert(tiny);
    const batch = inputs();
    const output = model.forward({ ...batch, outputHiddenStates: true });
    expect(output.hiddenStates).toHaveLength(3);
    expectClose(values(output.hiddenStates![0]!), values(model.embeddings.forward({ inputIds: batch.inputIds, tokenTypeIds: batch.tokenTypeIds })), 0);
    expectClose(values(output.hiddenStates![1]!), values(manualHidden(model, [0])), 1e-6);
    expectClose(values(output.hiddenStates![2]!), values(output.lastHiddenState), 0);
    expect(model.forward(batch).hiddenStates).toBeUndefined();
  });

  it('runs its blocks through the layer runner it is given', () => {
    const model = createBert(tiny);
    const batch = inputs();
    let calls = 0;
    const reversed: LayerRunner = {
      run(layers, hidden, context, options) {
        calls++;
        let current = hidden;
        const states = [hidden];
        for (const layer of [...layers].reverse()) {
          current = layer.forward(current, context);
          states.push(current);
        }
        return options.outputHiddenStates ? { hidden: current, hiddenStates: states } : { hidden: current };
      },
    };
    const forwardOrder = values(model.forward(batch).lastHiddenState);
    model.layerRunner = reversed;
    expect(model.layerRunner).toBe(reversed);
    const output = model.forward({ ...batch, outputHiddenStates: true });
    expect(calls).toBe(1);
    expect(output.hiddenStates).toHaveLength(3);
    expectClose(values(output.lastHiddenState), values(manualHidden(model, [1, 0])), 1e-6);
    expect(Math.max(...values(output.lastHiddenState).map((v, i) => Math.abs(v - forwardOrder[i]!)))).toBeGreaterThan(1e-3);
  });

  it('uses a wrapper that replaced encoder.layers.0.ffn', () => {
    const model = createBert(tiny);
    const batch = inputs();
    const constant = randomTensor([2, 4, 8], 1);
    const block = model.layers()[0] as TransformerBlock;
    // Block 0 by its post-LN formula with the ffn output shifted by the constant, then block 1.
    const embedded = model.embeddings.forward({ inputIds: batch.inputIds, tokenTypeIds: batch.tokenTypeIds });
    const context = { attentionMask: batch.attentionMask.toFloat() };
    const h = block.child('attentionNorm').forward(tf.add(embedded, block.attention.forward(embedded, context)));
    const layer0 = block.child('ffnNorm').forward(tf.add(h, tf.add(block.ffn.forward(h, context), constant)));
    const expected = model.layers()[1]!.forward(layer0, context);
    model.replaceModule('encoder.layers.0.ffn', (inner) => new AddConstant(inner as Sublayer, constant));
    expectClose(values(model.forward(batch).lastHiddenState), values(expected), 1e-5);
  });

  it('token classification: one logit row per token, prompt rows stripped; loss ignores -100 labels', () => {
    const model = createBert({ ...tiny, task: 'token-classification', numLabels: 3 });
    const batch = inputs();
    const output = model.forward(batch);
    expect(output.logits.shape).toEqual([2, 4, 3]);
    expectClose(values(output.logits), values(model.getModule('head.classifier').forward(output.lastHiddenState)), 1e-6);
    const labels = tf.tensor2d([[0, 2, -100, -100], [1, -100, 2, 0]], undefined, 'int32');
    const rows = output.logits.arraySync() as number[][][];
    const nll = (row: number[], label: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label]!;
    const expected = (nll(rows[0]![0]!, 0) + nll(rows[0]![1]!, 2) + nll(rows[1]![0]!, 1) + nll(rows[1]![2]!, 2) + nll(rows[1]![3]!, 0)) / 5;
    expect(model.taskLoss(output, labels, batch.attentionMask).dataSync()[0]).toBeCloseTo(expected, 5);

    const prompt = Object.assign(
      new (class extends Module<[{ batchSize: number }], tf.Tensor> {
        constructor() {
          super();
          this.registerParameter('table', new Parameter(randomTensor([1, 3, 8], 2)));
        }
        forward({ batchSize }: { batchSize: number }) {
          return tf.tile(this.parameter('table').value, [batchSize, 1, 1]);
        }
      })(),
      { length: 3 },
    );
    model.embeddings.setPrompt(prompt);
    const prompted = model.forward(batch);
    expect(prompted.promptLength).toBe(3);
    expect(prompted.lastHiddenState.shape).toEqual([2, 7, 8]);
    expect(prompted.logits.shape).toEqual([2, 4, 3]);
    const realRows = prompted.lastHiddenState.slice([0, 3, 0], [2, 4, 8]);
    expectClose(values(prompted.logits), values(model.getModule('head.classifier').forward(realRows)), 1e-6);
  });

  it('masked LM: HF BertOnlyMLMHead with the decoder tied to the word embeddings', () => {
    const model = createBert({ ...tiny, task: 'masked-lm' });
    model.getParameter('head.bias').assign(randomTensor([20], 3));
    const output = model.forward(inputs());
    expect(output.logits.shape).toEqual([2, 4, 20]);
    const transformed = model.getModule('head.norm').forward(gelu(model.getModule('head.transform').forward(output.lastHiddenState)));
    const table = model.getParameter('embeddings.word.weight').value;
    const expected = tf.add(tf.matMul(transformed.reshape([8, 8]), table, false, true), model.getParameter('head.bias').value);
    expectClose(values(output.logits), values(expected), 1e-5);
    const labels = tf.tensor2d([[-100, 4, -100, -100], [-100, -100, 7, -100]], undefined, 'int32');
    const rows = output.logits.arraySync() as number[][][];
    const nll = (row: number[], label: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label]!;
    expect(model.taskLoss(output, labels).dataSync()[0]).toBeCloseTo((nll(rows[0]![1]!, 4) + nll(rows[1]![2]!, 7)) / 2, 5);
  });

  it('regression: one output, MSE loss', () => {
    const model = createBert({ ...tiny, task: 'regression' });
    const output = model.forward(inputs());
    expect(output.logits.shape).toEqual([2, 1]);
    const [a, b] = values(output.logits);
    expect(model.taskLoss(output, tf.tensor1d([0.5, -1])).dataSync()[0]).toBeCloseTo(((a! - 0.5) ** 2 + (b! + 1) ** 2) / 2, 5);
  });

  it('starts positions after a first-layer prefix, as HF does with past key/values', () => {
    const model = createBert(tiny);
    const batch = inputs();
    const prefix = Object.assign(
      new (class extends Module<[{ batchSize: number }], PrefixKeyValue> {
        forward({ batchSize }: { batchSize: number }): PrefixKeyValue {
          return { key: tf.zeros([batchSize, 2, 8]), value: tf.zeros([batchSize, 2, 8]) };
        }
      })(),
      { length: 2 },
    );
    model.getModule<MultiHeadAttention>('encoder.layers.0.attention').setPrefix(prefix);
    expect(model.prefixPositionOffset()).toBe(2);
    const output = model.forward({ ...batch, outputHiddenStates: true });
    const shifted = model.embeddings.forward({ inputIds: batch.inputIds, tokenTypeIds: batch.tokenTypeIds, positionOffset: 2 });
    expectClose(values(output.hiddenStates![0]!), values(shifted), 0);
  });

  it('has full-model gradients that match finite differences (classification loss)', () => {
    const model = createBert({ ...tiny, numLayers: 1, numLabels: 3 });
    const batch = inputs();
    const labels = tf.tensor1d([2, 0], 'int32');
    const loss = () => model.taskLoss(model.forward(batch), labels);
    const variables = model
      .namedParameters()
      .filter(([path]) => !path.startsWith('embeddings.word') && !path.startsWith('embeddings.position'))
      .map(([path, p]) => [path, p.variable] as const);
    expect(checkGradients(loss, variables, { samples: 1, eps: 1e-2, seed: 3 })).toBe(variables.length);
  });

  it('leaks no tensors across repeated forward + gradients in training mode', () => {
    const model = createBert({ ...tiny, hiddenDropout: 0.1, attentionDropout: 0.1, task: 'token-classification' });
    const batch = inputs();
    const labels = tf.tensor2d([[0, 1, -100, -100], [1, 1, 0, 1]], undefined, 'int32');
    const step = () => {
      const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward({ ...batch, outputHiddenStates: true }), labels, batch.attentionMask));
      value.dispose();
      tf.dispose(grads);
      tf.dispose(model.forward(batch) as unknown as tf.TensorContainer);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects invalid configs with a PeftError naming the field', () => {
    const cases: Array<[BertConfigInput, string]> = [
      [{ hiddenSize: 10, numHeads: 4 }, 'numHeads'],
      [{ hiddenDropout: 1 }, 'hiddenDropout'],
      [{ task: 'causal-lm' as never }, 'task'],
      [{ task: 'masked-lm', numLabels: 3 }, 'numLabels'],
      [{ hiddenSzie: 8 } as never, 'hiddenSzie'],
    ];
    for (const [config, field] of cases) {
      try {
        createBert(config);
        expect.unreachable(`accepted ${JSON.stringify(config)}`);
      } catch (error) {
        expect(PeftError.hasCode(error, 'invalid-config')).toBe(true);
        expect((error as PeftError).field).toBe(field);
      }
    }
    expect(createBert({ task: 'regression' }).config.numLabels).toBe(1);
    expect(createBert({ hiddenSize: 16 }).config.intermediateSize).toBe(64);
    expect(createBert().getModule<Linear>('encoder.layers.0.ffn.up').weight.shape).toEqual([64, 256]);
  });
});
