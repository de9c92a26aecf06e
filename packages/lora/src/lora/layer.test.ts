import { Linear, PeftError, setGlobalSeed, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear } from './layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const IN = 5;
const OUT = 4;
const R = 3;

function makeLayer(options: { alpha?: number; useRslora?: boolean; dropout?: number; init?: 'kaiming-uniform' | 'gaussian' } = {}): LoraLinear {
  setGlobalSeed(11);
  const base = new Linear(IN, OUT, { role: 'attention.query' });
  base.bias!.assign(tf.tensor1d([0.1, -0.2, 0.3, 0.05]));
  const layer = new LoraLinear(base, { r: R, alpha: options.alpha ?? 6, ...options });
  // B = 0 at init; give it values so the update is visible.
  layer.loraB.assign(tf.randomNormal([R, OUT], 0, 0.5, 'float32', 4));
  return layer;
}

const matrix = (t: tf.Tensor) => t.arraySync() as number[][];
const vector = (t: tf.Tensor) => t.arraySync() as number[];

describe('LoraLinear', () => {
  it('copies the role and sizes of the wrapped Linear and starts as the identity update (B = 0)', () => {
    setGlobalSeed(3);
    const base = new Linear(IN, OUT, { role: 'attention.value' });
    const layer = new LoraLinear(base, { r: R, alpha: 8 });
    expect(layer.role).toBe('attention.value');
    expect([layer.inFeatures, layer.outFeatures]).toEqual([IN, OUT]);
    expect(layer.loraA.shape).toEqual([IN, R]);
    expect(layer.loraB.shape).toEqual([R, OUT]);
    expect(Math.max(...layer.loraB.value.dataSync())).toBe(0);
    const x = tf.randomNormal([2, 3, IN], 0, 1, 'float32', 1);
    expect(Array.from(layer.forward(x).dataSync())).toEqual(Array.from(base.forward(x).dataSync()));
    tf.dispose(x);
  });

  it('computes W0·x + b + (α/r)·B·A·x, and α/√r with rsLoRA', () => {
    for (const useRslora of [false, true]) {
      const layer = makeLayer({ alpha: 6, useRslora });
      const scale = useRslora ? 6 / Math.sqrt(R) : 6 / R;
      expect(layer.scaling).toBeCloseTo(scale, 12);
      const x = tf.randomNormal([2, IN], 0, 1, 'float32', 9);
      const w = matrix(layer.base.parameter('weight').value);
      const b = vector(layer.base.parameter('bias').value);
      const aT = matrix(layer.loraA.value);
      const bT = matrix(layer.loraB.value);
      const expected = matrix(x).map((row) => {
        const ax = Array.from({ length: R }, (_, k) => row.reduce((sum, xi, i) => sum + aT[i]![k]! * xi, 0));
        return Array.from({ length: OUT }, (_, j) => row.reduce((sum, xi, i) => sum + w[i]![j]! * xi, 0) + b[j]! + scale * ax.reduce((sum, v, k) => sum + bT[k]![j]! * v, 0));
      });
      const actual = matrix(layer.forward(x));
      actual.forEach((row, n) => row.forEach((value, j) => expect(value).toBeCloseTo(expected[n]![j]!, 5)));
      tf.dispose(x);
    }
  });

  it('has gradients w.r.t. A and B that match central finite differences', () => {
    const layer = makeLayer();
    layer.loraA.assign(tf.randomNormal([IN, R], 0, 0.5, 'float32', 5));
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 6);
    const weights = tf.randomNormal([3, OUT], 0, 1, 'float32', 7);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(layer.forward(x), weights)) as tf.Scalar);
    const { grads } = tf.variableGrads(loss, [layer.loraA.variable, layer.loraB.variable]);
    const eps = 1e-2;
    for (const parameter of [layer.loraA, layer.loraB]) {
      const analytic = grads[parameter.variable.name]!.dataSync();
      const values = parameter.value.dataSync().slice();
      for (let i = 0; i < values.length; i++) {
        const shifted = (delta: number) => {
          const copy = values.slice();
          copy[i]! += delta;
          parameter.assign(tf.tensor(copy, parameter.shape));
          return loss().dataSync()[0]!;
        };
        const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
        parameter.assign(tf.tensor(values, parameter.shape));
        expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
      }
    }
    tf.dispose([x, weights, ...Object.values(grads)]);
  });

  it('merges into W to 1e-5 and unmerges back to the original weight', () => {
    const layer = makeLayer();
    layer.loraA.assign(tf.randomNormal([IN, R], 0, 0.5, 'float32', 5));
    const x = tf.randomNormal([4, IN], 0, 1, 'float32', 8);
    const before = layer.base.parameter('weight').value.dataSync().slice();
    const unmerged = layer.forward(x).dataSync();
    layer.merge();
    expect(layer.merged).toBe(true);
    const merged = layer.forward(x).dataSync();
    unmerged.forEach((value, i) => expect(Math.abs(value - merged[i]!)).toBeLessThan(1e-5));
    const w = layer.base.parameter('weight').value.dataSync();
    const delta = layer.delta().dataSync();
    w.forEach((value, i) => expect(value).toBeCloseTo(before[i]! + delta[i]!, 6));
    layer.unmerge();
    layer.base.parameter('weight').value.dataSync().forEach((value, i) => expect(Math.abs(value - before[i]!)).toBeLessThan(1e-6));
    tf.dispose(x);
  });

  it('refuses a merge that would write non-finite weights, changing nothing', () => {
    const layer = makeLayer();
    layer.loraB.assign(tf.fill([R, OUT], Number.NaN));
    const before = layer.base.parameter('weight').value.dataSync().slice();
    expect(() => layer.merge()).toThrowError(expect.objectContaining({ code: 'merge-not-finite' }));
    expect(layer.merged).toBe(false);
    expect(Array.from(layer.base.parameter('weight').value.dataSync())).toEqual(Array.from(before));
  });

  it('applies dropout to the LoRA input in training mode only', () => {
    const layer = makeLayer({ dropout: 0.5 });
    const x = tf.randomNormal([8, IN], 0, 1, 'float32', 2);
    layer.eval();
    const evalOut = layer.forward(x).dataSync();
    const evalAgain = layer.forward(x).dataSync();
    expect(Array.from(evalAgain)).toEqual(Array.from(evalOut));
    layer.train();
    const trainOut = layer.forward(x).dataSync();
    expect(Array.from(trainOut)).not.toEqual(Array.from(evalOut));
    // Only the low-rank path is dropped: with B = 0 training output equals the base output.
    layer.loraB.assign(tf.zeros([R, OUT]));
    expect(Array.from(layer.forward(x).dataSync())).toEqual(Array.from(layer.base.forward(x).dataSync()));
    tf.dispose(x);
  });

  it('initialises A Kaiming-uniform (bound 1/√in) or Gaussian (std 1/r)', () => {
    setGlobalSeed(1);
    const wide = new LoraLinear(new Linear(400, 4), { r: 4, alpha: 4 });
    const a = wide.loraA.value.dataSync();
    const bound = 1 / Math.sqrt(400);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const gaussian = new LoraLinear(new Linear(400, 4), { r: 4, alpha: 4, init: 'gaussian' });
    const g = Array.from(gaussian.loraA.value.dataSync());
    const std = Math.sqrt(g.reduce((sum, v) => sum + v * v, 0) / g.length);
    expect(std).toBeGreaterThan(0.25 * 0.9);
    expect(std).toBeLessThan(0.25 * 1.1);
  });

  it('follows the training mode of the module it wraps', () => {
    const frozen = new LoraLinear(new Linear(2, 2).eval(), { r: 1, alpha: 1, dropout: 0.5 });
    expect(frozen.training).toBe(false);
    expect(new LoraLinear(new Linear(2, 2), { r: 1, alpha: 1, dropout: 0.5 }).training).toBe(true);
    // In eval mode LoRA's dropout is off: two forwards agree.
    frozen.loraB.assign(tf.ones([1, 2]));
    const x = tf.ones([4, 2]);
    expect(Array.from(frozen.forward(x).dataSync())).toEqual(Array.from(frozen.forward(x).dataSync()));
  });

  it('rejects a rank below 1', () => {
    expect(() => new LoraLinear(new Linear(2, 2), { r: 0, alpha: 1 })).toThrow(PeftError);
  });

  it('wraps another LoraLinear and merges both into the innermost weight', () => {
    const inner = makeLayer();
    const outer = new LoraLinear(inner, { r: 2, alpha: 2 });
    outer.loraB.assign(tf.randomNormal([2, OUT], 0, 0.5, 'float32', 12));
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 13);
    const unmerged = outer.forward(x).dataSync();
    inner.merge();
    outer.merge();
    outer.forward(x).dataSync().forEach((value, i) => expect(Math.abs(value - unmerged[i]!)).toBeLessThan(1e-5));
    expect(outer.innermostBase()).toBe(inner.base);
    tf.dispose(x);
  });
});

/** DoRA's Eq. 5 in float64: y = x·(m ⊙ V/‖V‖_c) + b with V = W + s·Aᵀ·Bᵀ; `norm` fixed when given (the detached norm). */
function doraReference(
  x: number[][],
  w: number[][],
  b: number[],
  aT: number[][],
  bT: number[][],
  m: number[],
  s: number,
  norm?: number[],
): { y: number[][]; norm: number[] } {
  const v = w.map((row, i) => row.map((value, j) => value + s * aT[i]!.reduce((sum, a, k) => sum + a * bT[k]![j]!, 0)));
  const n = norm ?? m.map((_, j) => Math.sqrt(v.reduce((sum, row) => sum + row[j]! ** 2, 0)));
  const y = x.map((row) => m.map((mj, j) => (mj / n[j]!) * row.reduce((sum, xi, i) => sum + xi * v[i]![j]!, 0) + b[j]!));
  return { y, norm: n };
}

describe('LoraLinear with DoRA', () => {
  function makeDora(): LoraLinear {
    setGlobalSeed(21);
    const base = new Linear(IN, OUT, { role: 'attention.value' });
    base.bias!.assign(tf.tensor1d([0.1, -0.2, 0.3, 0.05]));
    return new LoraLinear(base, { r: R, alpha: 6, useDora: true });
  }

  function moveAwayFromInit(layer: LoraLinear): void {
    layer.loraB.assign(tf.randomNormal([R, OUT], 0, 0.5, 'float32', 4));
    layer.loraMagnitude!.assign(tf.tensor1d([0.7, 1.3, 0.9, 1.6]));
  }

  const parts = (layer: LoraLinear) => ({
    w: matrix(layer.base.parameter('weight').value),
    b: vector(layer.base.parameter('bias').value),
    aT: matrix(layer.loraA.value),
    bT: matrix(layer.loraB.value),
    m: vector(layer.loraMagnitude!.value),
  });

  it('starts with m = ‖W0‖_c (norm over the input dim per output channel) and leaves the output unchanged', () => {
    const layer = makeDora();
    const { w, m } = parts(layer);
    m.forEach((value, j) => expect(value).toBeCloseTo(Math.sqrt(w.reduce((sum, row) => sum + row[j]! ** 2, 0)), 6));
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 1);
    layer.forward(x).dataSync().forEach((value, i) => expect(value).toBeCloseTo(layer.base.forward(x).dataSync()[i]!, 5));
    tf.dispose(x);
  });

  it('computes m ⊙ (W0 + s·ΔW)/‖W0 + s·ΔW‖_c (Eq. 5)', () => {
    const layer = makeDora();
    moveAwayFromInit(layer);
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 2);
    const { w, b, aT, bT, m } = parts(layer);
    const expected = doraReference(matrix(x), w, b, aT, bT, m, 2).y;
    matrix(layer.forward(x)).forEach((row, n) => row.forEach((value, j) => expect(value).toBeCloseTo(expected[n]![j]!, 5)));
    tf.dispose(x);
  });

  it('has gradients w.r.t. A, B and m that match finite differences with the norm held constant (§4.3)', () => {
    const layer = makeDora();
    moveAwayFromInit(layer);
    layer.loraA.assign(tf.randomNormal([IN, R], 0, 0.5, 'float32', 5));
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 6);
    const weights = tf.randomNormal([3, OUT], 0, 1, 'float32', 7);
    const { grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(tf.mul(layer.forward(x), weights)) as tf.Scalar), [layer.loraA.variable, layer.loraB.variable, layer.loraMagnitude!.variable]);
    const start = parts(layer);
    const xs = matrix(x);
    const ws = matrix(weights);
    const { norm } = doraReference(xs, start.w, start.b, start.aT, start.bT, start.m, 2);
    const loss = (p: typeof start) => doraReference(xs, p.w, p.b, p.aT, p.bT, p.m, 2, norm).y.reduce((sum, row, n) => sum + row.reduce((acc, v, j) => acc + v * ws[n]![j]!, 0), 0);
    const eps = 1e-4;
    const check = (name: 'aT' | 'bT' | 'm', analytic: ArrayLike<number>) => {
      const flat = (start[name] as Array<number | number[]>).flat() as number[];
      flat.forEach((_, index) => {
        const shifted = (delta: number) => {
          const copy = flat.slice();
          copy[index]! += delta;
          const rows = name === 'm' ? copy : (start[name] as number[][]).map((row, i) => copy.slice(i * row.length, (i + 1) * row.length));
          return loss({ ...start, [name]: rows });
        };
        const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
        expect(Math.abs(numeric - analytic[index]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(numeric)));
      });
    };
    check('aT', grads[layer.loraA.variable.name]!.dataSync());
    check('bT', grads[layer.loraB.variable.name]!.dataSync());
    check('m', grads[layer.loraMagnitude!.variable.name]!.dataSync());
    tf.dispose([x, weights, ...Object.values(grads)]);
  });

  it('merges to 1e-5 and unmerges back to W0', () => {
    const layer = makeDora();
    moveAwayFromInit(layer);
    const x = tf.randomNormal([4, IN], 0, 1, 'float32', 8);
    const before = layer.base.parameter('weight').value.dataSync().slice();
    const unmerged = layer.forward(x).dataSync();
    layer.merge();
    layer.forward(x).dataSync().forEach((value, i) => expect(Math.abs(value - unmerged[i]!)).toBeLessThan(1e-5));
    layer.unmerge();
    layer.base.parameter('weight').value.dataSync().forEach((value, i) => expect(Math.abs(value - before[i]!)).toBeLessThan(1e-5));
    layer.forward(x).dataSync().forEach((value, i) => expect(Math.abs(value - unmerged[i]!)).toBeLessThan(1e-5));
    tf.dispose(x);
  });

  it('refuses to merge a zero magnitude (unmerge could not undo it) and to wrap a non-Linear', () => {
    const layer = makeDora();
    layer.loraMagnitude!.assign(tf.tensor1d([0, 1, 1, 1]));
    expect(() => layer.merge()).toThrowError(expect.objectContaining({ code: 'merge-not-finite' }));
    expect(layer.merged).toBe(false);
    expect(() => new LoraLinear(makeLayer(), { r: 1, alpha: 1, useDora: true })).toThrowError(expect.objectContaining({ code: 'not-implemented' }));
  });
});
