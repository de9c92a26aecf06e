import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { causalLmLoss, crossEntropyLoss, mseLoss, tokenCrossEntropyLoss } from './task-loss';
import { checkGradients, randomTensor } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** −log softmax(row)[label], written out. */
function nll(row: number[], label: number): number {
  const max = Math.max(...row);
  const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
  return logSum - row[label]!;
}

describe('task losses', () => {
  it('cross-entropy is the mean negative log-likelihood over rows not labelled -100', () => {
    const logits = randomTensor([4, 3], 1, 2);
    const rows = logits.arraySync() as number[][];
    const loss = crossEntropyLoss(logits, tf.tensor1d([2, -100, 0, 1], 'int32'));
    expect(loss.dataSync()[0]).toBeCloseTo((nll(rows[0]!, 2) + nll(rows[2]!, 0) + nll(rows[3]!, 1)) / 3, 5);
    expect(crossEntropyLoss(logits, tf.fill([4], -100, 'int32')).dataSync()[0]).toBeCloseTo(0, 10);
    expect(() => crossEntropyLoss(logits, tf.tensor1d([3, 0, 0, 0], 'int32'))).toThrow(/class ids/);
  });

  it('token cross-entropy skips -100 labels and masked positions', () => {
    const logits = randomTensor([2, 3, 5], 2, 2);
    const rows = logits.arraySync() as number[][][];
    const labels = tf.tensor2d([[1, -100, 4], [0, 2, 3]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]], undefined, 'int32');
    const expected = (nll(rows[0]![0]!, 1) + nll(rows[0]![2]!, 4) + nll(rows[1]![0]!, 0) + nll(rows[1]![1]!, 2)) / 4;
    expect(tokenCrossEntropyLoss(logits, labels, mask).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it('causal LM loss: logits at t predict the label at t+1 (HF shift), skipping -100 and masked targets', () => {
    const logits = randomTensor([2, 4, 6], 3, 2);
    const rows = logits.arraySync() as number[][][];
    const labels = tf.tensor2d([[5, 1, -100, 3], [2, 4, 0, 1]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
    // Example 0: targets 1, (skip), 3 from positions 0, 2; example 1: targets 4, 0 from positions 0, 1 (position 3 masked).
    const expected = (nll(rows[0]![0]!, 1) + nll(rows[0]![2]!, 3) + nll(rows[1]![0]!, 4) + nll(rows[1]![1]!, 0)) / 4;
    expect(causalLmLoss(logits, labels, mask).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it('MSE flattens [batch, 1] predictions against [batch] targets, as HF does with one label', () => {
    const loss = mseLoss(tf.tensor2d([[1], [2], [4]]), tf.tensor1d([0, 2, 1]));
    expect(loss.dataSync()[0]).toBeCloseTo((1 + 0 + 9) / 3, 6);
    expect(() => mseLoss(tf.tensor2d([[1, 2]]), tf.tensor1d([1]))).toThrow(/labels/);
  });

  it('losses have gradients that match finite differences', () => {
    const logits = tf.variable(randomTensor([2, 4, 5], 4, 2));
    const labels = tf.tensor2d([[1, -100, 4, 2], [0, 2, 3, 3]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
    expect(checkGradients(() => causalLmLoss(logits, labels, mask), [['logits', logits]], { samples: 8, eps: 1e-3 })).toBe(8);
    expect(checkGradients(() => tokenCrossEntropyLoss(logits, labels, mask), [['logits', logits]], { samples: 8, eps: 1e-3 })).toBe(8);
    const predictions = tf.variable(randomTensor([3, 1], 5));
    expect(checkGradients(() => mseLoss(predictions, tf.tensor1d([0.5, -1, 2])), [['predictions', predictions]], { samples: 3, eps: 1e-3 })).toBe(3);
  });
});
