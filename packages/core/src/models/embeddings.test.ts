import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import type { Embedding } from '../nn/embedding';
import type { LayerNorm } from '../nn/layer-norm';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { Embeddings, type EmbeddingsOptions } from './embeddings';
import { checkGradients, expectClose, randomTensor, values, weightedSum } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A prompt provider with a trainable table [P, hidden]. */
class TablePrompt extends Module<[{ batchSize: number }], tf.Tensor> {
  readonly length: number;
  constructor(table: tf.Tensor) {
    super();
    this.length = table.shape[0]!;
    this.registerParameter('table', new Parameter(table));
  }
  forward({ batchSize }: { batchSize: number }): tf.Tensor {
    return tf.tidy(() => tf.tile(this.parameter('table').value.expandDims(0), [batchSize, 1, 1]));
  }
}

const bertOptions: EmbeddingsOptions = { vocabSize: 10, hiddenSize: 4, maxPositions: 8, typeVocabSize: 2, layerNorm: true, layerNormEps: 1e-12, dropout: 0, initStd: 0.5 };
const gptOptions: EmbeddingsOptions = { ...bertOptions, typeVocabSize: 0, layerNorm: false };

function table(embeddings: Embeddings, name: string): number[][] {
  return embeddings.child<Embedding>(name).weight.value.arraySync() as number[][];
}

function normalize(row: number[], norm: LayerNorm): number[] {
  const gamma = norm.gamma.value.arraySync() as number[];
  const beta = norm.beta.value.arraySync() as number[];
  const mean = row.reduce((a, b) => a + b, 0) / row.length;
  const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-12)) * gamma[i]! + beta[i]!);
}

describe('Embeddings', () => {
  const ids = [
    [3, 1, 4],
    [1, 5, 9],
  ];
  const types = [
    [0, 0, 1],
    [0, 1, 1],
  ];

  it('BERT: LayerNorm(word + position + tokenType), token types default to 0', () => {
    const embeddings = new Embeddings(bertOptions);
    const norm = embeddings.child<LayerNorm>('norm');
    norm.gamma.assign(tf.tensor1d([1, 2, 0.5, 1.5]));
    norm.beta.assign(tf.tensor1d([0.1, -0.2, 0.3, 0]));
    const [word, position, type] = [table(embeddings, 'word'), table(embeddings, 'position'), table(embeddings, 'tokenType')];
    const expected = (typeIds: number[][]) =>
      ids.flatMap((row, b) => row.map((id, t) => normalize(word[id]!.map((v, d) => v + position[t]![d]! + type[typeIds[b]![t]!]![d]!), norm)));
    const inputIds = tf.tensor2d(ids, undefined, 'int32');
    expectClose(values(embeddings.forward({ inputIds, tokenTypeIds: tf.tensor2d(types, undefined, 'int32') })), expected(types).flat(), 1e-5);
    expectClose(values(embeddings.forward({ inputIds })), expected(ids.map((r) => r.map(() => 0))).flat(), 1e-5);
    expect(embeddings.children().map(([name, child]) => [name, child.role])).toEqual([
      ['word', 'embedding.token'],
      ['position', 'embedding.position'],
      ['tokenType', 'embedding.type'],
      ['norm', 'norm.embedding'],
      ['dropout', undefined],
    ]);
  });

  it('GPT-2: word + position, no norm; position ids start at the offset', () => {
    const embeddings = new Embeddings(gptOptions);
    const [word, position] = [table(embeddings, 'word'), table(embeddings, 'position')];
    const out = embeddings.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32'), positionOffset: 2 });
    expectClose(values(out), ids.flatMap((row) => row.map((id, t) => word[id]!.map((v, d) => v + position[t + 2]![d]!))).flat(), 1e-6);
    expect(() => embeddings.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32'), tokenTypeIds: tf.tensor2d(types, undefined, 'int32') })).toThrow(/token-type/);
  });

  it('prepends prompt rows to the word embeddings, then adds positions 0..P+T-1 and token type 0 (as HF PEFT)', () => {
    const embeddings = new Embeddings(bertOptions);
    const inputIds = tf.tensor2d(ids, undefined, 'int32');
    const plain = values(embeddings.forward({ inputIds }));
    const promptRows = randomTensor([2, 4], 1).arraySync() as number[][];
    embeddings.setPrompt(new TablePrompt(tf.tensor2d(promptRows)));
    expect(embeddings.promptLength).toBe(2);
    const out = embeddings.forward({ inputIds, tokenTypeIds: tf.tensor2d(types, undefined, 'int32') });
    expect(out.shape).toEqual([2, 5, 4]);
    const [word, position, type] = [table(embeddings, 'word'), table(embeddings, 'position'), table(embeddings, 'tokenType')];
    const norm = embeddings.child<LayerNorm>('norm');
    const expected = ids.flatMap((row, b) => {
      const rows = [...promptRows, ...row.map((id) => word[id]!)];
      const typeIds = [0, 0, ...types[b]!];
      return rows.map((r, t) => normalize(r.map((v, d) => v + position[t]![d]! + type[typeIds[t]!]![d]!), norm));
    });
    expectClose(values(out), expected.flat(), 1e-5);
    embeddings.setPrompt(undefined);
    expectClose(values(embeddings.forward({ inputIds })), plain, 0);
  });

  it('rejects sequences longer than maxPositions, prompt and offset included', () => {
    const embeddings = new Embeddings(gptOptions);
    embeddings.setPrompt(new TablePrompt(tf.zeros([4, 4])));
    const inputIds = tf.zeros([1, 4], 'int32');
    expect(embeddings.forward({ inputIds }).shape).toEqual([1, 8, 4]);
    try {
      embeddings.forward({ inputIds, positionOffset: 1 });
      expect.unreachable();
    } catch (error) {
      expect(PeftError.hasCode(error, 'invalid-argument')).toBe(true);
      expect((error as PeftError).value).toBe(9);
    }
  });

  it('has gradients that match finite differences (tables, norm, prompt)', () => {
    const embeddings = new Embeddings(bertOptions);
    embeddings.setPrompt(new TablePrompt(randomTensor([2, 4], 2)));
    const inputIds = tf.tensor2d(ids, undefined, 'int32');
    const tokenTypeIds = tf.tensor2d(types, undefined, 'int32');
    const variables = embeddings.namedParameters().map(([name, p]) => [name, p.variable] as const);
    expect(variables.map(([name]) => name)).toEqual(['word.weight', 'position.weight', 'tokenType.weight', 'norm.gamma', 'norm.beta', 'prompt.prompt.table']);
    expect(checkGradients(() => weightedSum(embeddings.forward({ inputIds, tokenTypeIds })), variables, { samples: 6 })).toBe(36);
  });
});
