import { beforeAll, describe, expect, it } from 'vitest';
import { gelu, geluTanh } from './activations';
import { Dropout } from './dropout';
import { Embedding } from './embedding';
import { LayerNorm } from './layer-norm';
import { Linear } from './linear';
import { tf } from './tf';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function closeTo(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(tolerance);
}

/** Central finite difference of a scalar function of one parameter entry, in float64 arithmetic on read-back values. */
function finiteDifference(loss: () => number, variable: tf.Variable, index: number, eps = 1e-2): number {
  const values = variable.dataSync().slice();
  const original = values[index]!;
  values[index] = original + eps;
  variable.assign(tf.tensor(values, variable.shape));
  const plus = loss();
  values[index] = original - eps;
  variable.assign(tf.tensor(values, variable.shape));
  const minus = loss();
  values[index] = original;
  variable.assign(tf.tensor(values, variable.shape));
  return (plus - minus) / (2 * eps);
}

describe('Linear', () => {
  it('computes x·W + b over the last axis, for any leading dims', () => {
    const linear = new Linear(3, 2);
    linear.weight.assign(tf.tensor2d([[1, 2], [3, 4], [5, 6]]));
    linear.bias!.assign(tf.tensor1d([0.5, -1]));
    const x = tf.tensor3d([[[1, 0, 0], [0, 1, 1]]]);
    const y = linear.forward(x);
    expect(y.shape).toEqual([1, 2, 2]);
    closeTo(y.dataSync(), [1.5, 1, 8.5, 9], 1e-6);
    linear.dispose();
  });

  it('has gradients that match finite differences', () => {
    const linear = new Linear(4, 3);
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 3);
    const target = tf.randomNormal([2, 3], 0, 1, 'float32', 4);
    const lossTensor = () => tf.tidy(() => tf.sum(tf.square(tf.sub(linear.forward(x), target))) as tf.Scalar);
    const { grads } = tf.variableGrads(lossTensor, [linear.weight.variable, linear.bias!.variable]);
    const loss = () => lossTensor().dataSync()[0]!;
    for (const [variable, grad] of [[linear.weight.variable, grads[linear.weight.variable.name]!], [linear.bias!.variable, grads[linear.bias!.variable.name]!]] as const) {
      const analytic = grad.dataSync();
      for (let i = 0; i < variable.size; i += 2) {
        expect(Math.abs(finiteDifference(loss, variable, i) - analytic[i]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic[i]!)));
      }
    }
    tf.dispose(Object.values(grads));
    linear.dispose();
  });
});

describe('LayerNorm', () => {
  it('normalizes over the last axis like the textbook formula', () => {
    const norm = new LayerNorm(4, { eps: 1e-5 });
    norm.gamma.assign(tf.tensor1d([1, 2, 1, 0.5]));
    norm.beta.assign(tf.tensor1d([0, 0, 1, 0]));
    const row = [1, 2, 3, 6];
    const mean = 3;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / 4;
    const expected = row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * [1, 2, 1, 0.5][i]! + [0, 0, 1, 0][i]!);
    closeTo(norm.forward(tf.tensor2d([row])).dataSync(), expected, 1e-5);
    norm.dispose();
  });

  it('has gamma/beta gradients that match finite differences', () => {
    const norm = new LayerNorm(5);
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 5);
    const weights = tf.randomNormal([3, 5], 0, 1, 'float32', 6);
    const lossTensor = () => tf.tidy(() => tf.sum(tf.mul(norm.forward(x), weights)) as tf.Scalar);
    const { grads } = tf.variableGrads(lossTensor, [norm.gamma.variable, norm.beta.variable]);
    const loss = () => lossTensor().dataSync()[0]!;
    for (const variable of [norm.gamma.variable, norm.beta.variable]) {
      const analytic = grads[variable.name]!.dataSync();
      for (let i = 0; i < variable.size; i++) {
        expect(Math.abs(finiteDifference(loss, variable, i) - analytic[i]!)).toBeLessThan(2e-2);
      }
    }
    tf.dispose(Object.values(grads));
    norm.dispose();
  });
});

describe('Embedding, Dropout, activations', () => {
  it('gathers rows by id', () => {
    const embedding = new Embedding(4, 2);
    embedding.weight.assign(tf.tensor2d([[0, 0], [1, 1], [2, 2], [3, 3]]));
    const out = embedding.forward(tf.tensor2d([[3, 1]], [1, 2], 'int32'));
    closeTo(out.dataSync(), [3, 3, 1, 1], 1e-7);
    embedding.dispose();
  });

  it('drops only in training mode and rescales kept units', () => {
    const dropout = new Dropout(0.5);
    const x = tf.ones([1000]);
    const trained = dropout.forward(x).dataSync();
    expect(new Set(trained)).toEqual(new Set([0, 2]));
    const kept = trained.filter((v) => v > 0).length;
    expect(kept).toBeGreaterThan(400);
    expect(kept).toBeLessThan(600);
    dropout.eval();
    expect(dropout.forward(x)).toBe(x);
  });

  it('gelu matches the erf form and gelu_new the tanh form', () => {
    const xs = [-2, -0.5, 0, 0.7, 3];
    const erf = (v: number) => {
      // Abramowitz-Stegun 7.1.26, |error| < 1.5e-7
      const t = 1 / (1 + 0.3275911 * Math.abs(v));
      const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-v * v);
      return v >= 0 ? y : -y;
    };
    closeTo(gelu(tf.tensor1d(xs)).dataSync(), xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))), 1e-4);
    closeTo(
      geluTanh(tf.tensor1d(xs)).dataSync(),
      xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
      1e-5,
    );
  });
});
