import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { expectClose, values } from '../models/test-support';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { AdamW } from './adamw';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** PyTorch's AdamW written out on plain arrays, in double precision. */
function referenceAdamW(
  theta: number[],
  gradients: number[][],
  options: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
): number[] {
  const p = [...theta];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  gradients.forEach((g, index) => {
    const t = index + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - options.lr * options.weightDecay);
      m[i] = options.beta1 * m[i]! + (1 - options.beta1) * g[i]!;
      v[i] = options.beta2 * v[i]! + (1 - options.beta2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - options.beta1 ** t);
      const vHat = v[i]! / (1 - options.beta2 ** t);
      p[i] = p[i]! - (options.lr * mHat) / (Math.sqrt(vHat) + options.eps);
    }
  });
  return p;
}

const theta0 = [0.5, -1.25, 2, 0.1];
const gradientSequence = [
  [0.3, -0.2, 1.5, 0],
  [-0.1, 0.4, 0.5, 2],
  [0.25, 0.25, -3, -0.5],
];
const hyper = { lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 1e-8, weightDecay: 0.2 };

function runOptimizer(parameter: Parameter, optimizer: AdamW, gradients: number[][]): void {
  for (const g of gradients) {
    const gradient = tf.tensor(g, parameter.shape);
    optimizer.step(new Map([[parameter, gradient]]));
    gradient.dispose();
  }
}

describe('AdamW', () => {
  const options = { learningRate: hyper.lr, beta1: hyper.beta1, beta2: hyper.beta2, epsilon: hyper.eps, weightDecay: hyper.weightDecay };

  it('matches the hand-written reference after one step', () => {
    const parameter = new Parameter(tf.tensor(theta0, [2, 2]));
    const optimizer = new AdamW([parameter], options);
    runOptimizer(parameter, optimizer, gradientSequence.slice(0, 1));
    // One step: m̂ = g, v̂ = g², so the update is lr·g/(|g|+ε) = lr·sign(g) (0 where g = 0).
    const expected = theta0.map((x, i) => x * (1 - hyper.lr * hyper.weightDecay) - hyper.lr * Math.sign(gradientSequence[0]![i]!));
    expectClose(values(parameter.value), expected, 1e-6);
    expectClose(values(parameter.value), referenceAdamW(theta0, gradientSequence.slice(0, 1), hyper), 1e-6);
    optimizer.dispose();
    parameter.dispose();
  });

  it('matches the hand-written reference over several steps', () => {
    const parameter = new Parameter(tf.tensor(theta0, [4]));
    const optimizer = new AdamW([parameter], options);
    runOptimizer(parameter, optimizer, gradientSequence);
    expectClose(values(parameter.value), referenceAdamW(theta0, gradientSequence, hyper), 1e-5);
    optimizer.dispose();
    parameter.dispose();
  });

  it('equals tf.train.adam when weight decay is 0', () => {
    const parameter = new Parameter(tf.tensor(theta0, [4]));
    const tfVariable = tf.variable(tf.tensor(theta0, [4]));
    const optimizer = new AdamW([parameter], { ...options, weightDecay: 0 });
    const adam = tf.train.adam(hyper.lr, hyper.beta1, hyper.beta2, hyper.eps);
    for (const g of gradientSequence) {
      const gradient = tf.tensor(g, [4]);
      optimizer.step(new Map([[parameter, gradient]]));
      adam.applyGradients([{ name: tfVariable.name, tensor: gradient }]);
      gradient.dispose();
    }
    expectClose(values(parameter.value), values(tfVariable), 1e-6);
    expect(values(parameter.value)).not.toEqual(theta0);
    adam.dispose();
    tfVariable.dispose();
    optimizer.dispose();
    parameter.dispose();
  });

  it('leaves bias, gamma and beta out of weight decay by default, and can be configured', () => {
    const weight = new Parameter(tf.tensor(theta0, [4]), { kind: 'weight' });
    const bias = new Parameter(tf.tensor(theta0, [4]), { kind: 'bias' });
    const gamma = new Parameter(tf.tensor(theta0, [4]), { kind: 'gamma' });
    const optimizer = new AdamW([weight, bias, gamma], options);
    expect([weight, bias, gamma].map((p) => optimizer.appliesWeightDecay(p))).toEqual([true, false, false]);
    for (const g of gradientSequence) {
      const gradient = tf.tensor(g, [4]);
      optimizer.step(new Map([[weight, gradient], [bias, gradient], [gamma, gradient]]));
      gradient.dispose();
    }
    expectClose(values(weight.value), referenceAdamW(theta0, gradientSequence, hyper), 1e-5);
    expectClose(values(bias.value), referenceAdamW(theta0, gradientSequence, { ...hyper, weightDecay: 0 }), 1e-5);
    expectClose(values(gamma.value), referenceAdamW(theta0, gradientSequence, { ...hyper, weightDecay: 0 }), 1e-5);
    const custom = new AdamW([weight, bias], { excludeFromWeightDecay: (p) => p === weight });
    expect([custom.appliesWeightDecay(weight), custom.appliesWeightDecay(bias)]).toEqual([false, true]);
    optimizer.dispose();
    for (const p of [weight, bias, gamma]) p.dispose();
  });

  it('keeps state only for the parameters it is given and rejects gradients of others', () => {
    const trained = new Parameter(tf.tensor(theta0, [4]));
    const frozen = new Parameter(tf.tensor(theta0, [4]), { trainable: false });
    const optimizer = new AdamW([trained], options);
    const gradient = tf.tensor(gradientSequence[0]!, [4]);
    optimizer.step(new Map([[trained, gradient]]));
    expect(Object.keys(optimizer.state().tensors).sort()).toEqual(['0.exp_avg', '0.exp_avg_sq']);
    expect(() => optimizer.step(new Map([[frozen, gradient]]))).toThrow(PeftError);
    expect(values(frozen.value)).toEqual(values(tf.tensor(theta0)));
    gradient.dispose();
    optimizer.dispose();
    trained.dispose();
    frozen.dispose();
  });

  it('saves and loads its state so that a resumed run continues exactly', () => {
    const uninterrupted = new Parameter(tf.tensor(theta0, [4]));
    const first = new AdamW([uninterrupted], { ...options, names: ['w'] });
    runOptimizer(uninterrupted, first, gradientSequence);

    const resumed = new Parameter(tf.tensor(theta0, [4]));
    const before = new AdamW([resumed], { ...options, names: ['w'] });
    runOptimizer(resumed, before, gradientSequence.slice(0, 2));
    const saved = before.state();
    expect(saved.steps).toEqual({ w: 2 });
    const after = new AdamW([resumed], { ...options, names: ['w'] });
    after.load(saved);
    before.dispose();
    runOptimizer(resumed, after, gradientSequence.slice(2));
    expect(values(resumed.value)).toEqual(values(uninterrupted.value));

    const wrongShape = { tensors: { 'w.exp_avg': tf.zeros([3]), 'w.exp_avg_sq': tf.zeros([3]) }, steps: { w: 1 } };
    expect(() => after.load(wrongShape)).toThrow(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    expect(() => after.load({ tensors: {}, steps: { other: 1 } })).toThrow(expect.objectContaining({ code: 'checkpoint-mismatch' }));
    Object.values(wrongShape.tensors).forEach((t) => t.dispose());
    for (const o of [first, after]) o.dispose();
    uninterrupted.dispose();
    resumed.dispose();
  });

  it('does not leak tensors across steps', () => {
    const parameter = new Parameter(tf.tensor(theta0, [4]));
    const optimizer = new AdamW([parameter], options);
    const gradient = tf.tensor(gradientSequence[1]!, [4]);
    optimizer.step(new Map([[parameter, gradient]]));
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) optimizer.step(new Map([[parameter, gradient]]));
    expect(tf.memory().numTensors).toBe(after1);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(after1 - 2);
    gradient.dispose();
    parameter.dispose();
  });

  it('rejects invalid hyperparameters with the field named', () => {
    expect(() => new AdamW([], { beta1: 1 })).toThrow(expect.objectContaining({ code: 'invalid-argument', field: 'beta1' }));
    expect(() => new AdamW([], { learningRate: -1 })).toThrow(expect.objectContaining({ field: 'learningRate' }));
  });
});
