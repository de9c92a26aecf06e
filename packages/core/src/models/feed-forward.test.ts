import { beforeAll, describe, expect, it } from 'vitest';
import type { Linear } from '../nn/linear';
import { tf } from '../nn/tf';
import { FeedForward } from './feed-forward';
import { checkGradients, expectClose, randomTensor, values, weightedSum } from './test-support';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const erf = (x: number): number => {
  // The Maclaurin series, accurate to float64 for the small arguments used here.
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
};

describe('FeedForward', () => {
  it('computes down(act(up(x))) like the formula, for erf GELU and tanh GELU', () => {
    const activations = {
      gelu: (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
      gelu_new: (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
    } as const;
    for (const name of ['gelu', 'gelu_new'] as const) {
      const ffn = new FeedForward({ hiddenSize: 4, intermediateSize: 6, activation: name, dropout: 0, initStd: 0.5 });
      const up = ffn.child<Linear>('up');
      const down = ffn.child<Linear>('down');
      up.bias!.assign(randomTensor([6], 1));
      down.bias!.assign(randomTensor([4], 2));
      const x = randomTensor([2, 3, 4], 3);
      const W1 = up.weight.value.arraySync() as number[][];
      const b1 = up.bias!.value.arraySync() as number[];
      const W2 = down.weight.value.arraySync() as number[][];
      const b2 = down.bias!.value.arraySync() as number[];
      const expected = (x.arraySync() as number[][][]).flat().map((row) => {
        const inner = b1.map((b, j) => activations[name](b + row.reduce((s, v, i) => s + v * W1[i]![j]!, 0)));
        return b2.map((b, o) => b + inner.reduce((s, v, j) => s + v * W2[j]![o]!, 0));
      });
      expectClose(values(ffn.forward(x, {})), expected.flat(), 1e-5);
    }
  });

  it('has roles ffn / ffn.up / ffn.down and applies dropout only in training', () => {
    const ffn = new FeedForward({ hiddenSize: 4, intermediateSize: 8, activation: 'relu', dropout: 0.5, initStd: 0.5 });
    expect([ffn.role, ffn.child('up').role, ffn.child('down').role]).toEqual(['ffn', 'ffn.up', 'ffn.down']);
    const x = randomTensor([2, 3, 4], 4);
    ffn.eval();
    const a = values(ffn.forward(x, {}));
    expectClose(values(ffn.forward(x, {})), a, 0);
    ffn.train();
    expect(values(ffn.forward(x, {}))).not.toEqual(a);
  });

  it('has gradients that match finite differences', () => {
    const ffn = new FeedForward({ hiddenSize: 4, intermediateSize: 6, activation: 'gelu', dropout: 0, initStd: 0.5 });
    const x = tf.variable(randomTensor([2, 3, 4], 5));
    const variables = [['x', x] as const, ...ffn.namedParameters().map(([name, p]) => [name, p.variable] as const)];
    expect(checkGradients(() => weightedSum(ffn.forward(x, {})), variables, { samples: 3 })).toBe(15);
  });
});
