import { Linear, PeftError, setGlobalSeed, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear } from '../lora/layer';
import { squarestFactor } from './config';
import { KronaLinear } from './layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const IN = 6;
const OUT = 8;

function makeLayer(options: { inFactor?: number; outFactor?: number; scale?: number } = {}): KronaLinear {
  setGlobalSeed(21);
  const base = new Linear(IN, OUT, { role: 'attention.query' });
  base.bias!.assign(tf.randomNormal([OUT], 0, 0.3, 'float32', 2));
  const layer = new KronaLinear(base, options);
  // B = 0 at init; give it values so the update is visible.
  layer.kronaB.assign(tf.randomNormal([...layer.bShape], 0, 0.5, 'float32', 4));
  return layer;
}

const matrix = (t: tf.Tensor) => t.arraySync() as number[][];

/** A ⊗ B by its definition, with plain loops: (A ⊗ B)[i1·b1 + i2][j1·b2 + j2] = A[i1][j1]·B[i2][j2]. */
function kronecker(a: number[][], b: number[][]): number[][] {
  const b1 = b.length;
  const b2 = b[0]!.length;
  const out: number[][] = Array.from({ length: a.length * b1 }, () => new Array<number>(a[0]!.length * b2).fill(0));
  a.forEach((row, i1) => row.forEach((aValue, j1) => b.forEach((bRow, i2) => bRow.forEach((bValue, j2) => (out[i1 * b1 + i2]![j1 * b2 + j2] = aValue * bValue)))));
  return out;
}

describe('KronaLinear', () => {
  it('picks the most square factorisation by default and starts as the identity update (B = 0)', () => {
    expect([squarestFactor(16), squarestFactor(32), squarestFactor(6), squarestFactor(7), squarestFactor(768)]).toEqual([4, 4, 2, 1, 24]);
    setGlobalSeed(3);
    const base = new Linear(IN, OUT, { role: 'attention.value' });
    const layer = new KronaLinear(base);
    expect(layer.role).toBe('attention.value');
    expect(layer.aShape).toEqual([2, 2]);
    expect(layer.bShape).toEqual([3, 4]);
    const x = tf.randomNormal([2, 3, IN], 0, 1, 'float32', 1);
    expect(Array.from(layer.forward(x).dataSync())).toEqual(Array.from(base.forward(x).dataSync()));
    tf.dispose(x);
  });

  it('computes x·W + b + s·x·(A ⊗ B) against A ⊗ B built with loops, for several factor shapes', () => {
    for (const options of [{}, { inFactor: 3, outFactor: 2, scale: 0.7 }, { inFactor: 6, outFactor: 1 }, { inFactor: 1, outFactor: 8, scale: 2 }]) {
      const layer = makeLayer(options);
      layer.kronaA.assign(tf.randomNormal([...layer.aShape], 0, 1, 'float32', 8));
      const scale = options.scale ?? 1;
      const w = matrix(layer.base.parameter('weight').value);
      const b = layer.base.parameter('bias').value.arraySync() as number[];
      const k = kronecker(matrix(layer.kronaA.value), matrix(layer.kronaB.value));
      const x = tf.randomNormal([2, 3, IN], 0, 1, 'float32', 9);
      const rows = matrix(x.reshape([-1, IN]));
      const expected = rows.map((row) => Array.from({ length: OUT }, (_, j) => row.reduce((sum, xi, i) => sum + xi * (w[i]![j]! + scale * k[i]![j]!), 0) + b[j]!));
      const y = layer.forward(x);
      expect(y.shape).toEqual([2, 3, OUT]);
      matrix(y.reshape([-1, OUT])).forEach((row, n) => row.forEach((value, j) => expect(value).toBeCloseTo(expected[n]![j]!, 5)));
      const delta = matrix(layer.deltaWeight());
      delta.forEach((row, i) => row.forEach((value, j) => expect(value).toBeCloseTo(scale * k[i]![j]!, 6)));
      tf.dispose([x, y]);
    }
  });

  it('has gradients w.r.t. A and B that match central finite differences', () => {
    const layer = makeLayer({ inFactor: 3, outFactor: 2, scale: 1.5 });
    layer.kronaA.assign(tf.randomNormal([...layer.aShape], 0, 0.5, 'float32', 5));
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 6);
    const weights = tf.randomNormal([3, OUT], 0, 1, 'float32', 7);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(layer.forward(x), weights)) as tf.Scalar);
    const { value, grads } = tf.variableGrads(loss, [layer.kronaA.variable, layer.kronaB.variable]);
    const eps = 1e-2;
    let checked = 0;
    for (const parameter of [layer.kronaA, layer.kronaB]) {
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
        expect(analytic[i]!).toBeCloseTo(numeric, 2);
        checked++;
      }
      parameter.assign(tf.tensor(values, parameter.shape));
    }
    expect(checked).toBe(3 * 2 + 2 * 4);
    tf.dispose([x, weights, value, ...Object.values(grads)]);
  });

  it('merges s·(A ⊗ B) into W (outputs within 1e-5) and unmerges back to the original W', () => {
    const layer = makeLayer({ scale: 0.5 });
    layer.kronaA.assign(tf.randomNormal([...layer.aShape], 0, 1, 'float32', 12));
    const original = layer.base.parameter('weight').value.dataSync().slice();
    const x = tf.randomNormal([4, IN], 0, 1, 'float32', 13);
    const unmerged = layer.forward(x).dataSync();
    layer.merge();
    expect(layer.merged).toBe(true);
    const merged = layer.forward(x).dataSync();
    merged.forEach((value, i) => expect(Math.abs(value - unmerged[i]!)).toBeLessThan(1e-5));
    layer.merge();
    layer.unmerge();
    layer.base.parameter('weight').value.dataSync().forEach((value, i) => expect(Math.abs(value - original[i]!)).toBeLessThan(1e-6));
    layer.enabled = false;
    const disabled = layer.forward(x).dataSync();
    const baseOut = layer.base.forward(x).dataSync();
    expect(Array.from(disabled)).toEqual(Array.from(baseOut));
    tf.dispose(x);
  });

  it('merges through a LoRA wrapper underneath into the innermost Linear', () => {
    setGlobalSeed(30);
    const linear = new Linear(IN, OUT);
    const lora = new LoraLinear(linear, { r: 2, alpha: 2 });
    lora.loraB.assign(tf.randomNormal([2, OUT], 0, 0.5, 'float32', 3));
    const layer = new KronaLinear(lora);
    layer.kronaB.assign(tf.randomNormal([...layer.bShape], 0, 0.5, 'float32', 4));
    expect(layer.innermostBase()).toBe(linear);
    expect(layer.mergeTarget()).toBe(linear.weight);
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 5);
    const before = layer.forward(x).dataSync();
    layer.merge();
    lora.merge();
    const after = layer.forward(x).dataSync();
    after.forEach((value, i) => expect(Math.abs(value - before[i]!)).toBeLessThan(1e-5));
    tf.dispose(x);
  });

  it('holds named adapters side by side: forward adds both updates, forAdapter reads the second', () => {
    const layer = makeLayer({ scale: 0.5 });
    layer.kronaA.assign(tf.randomNormal([...layer.aShape], 0, 1, 'float32', 14));
    layer.addAdapter('second', 'krona', layer.resolveOptions({ inFactor: 3, outFactor: 2, scale: 2 }));
    const second = layer.forAdapter('second');
    expect(second.aShape).toEqual([3, 2]);
    expect(second.bShape).toEqual([2, 4]);
    expect(second.kronaB).not.toBe(layer.kronaB);
    second.kronaB.assign(tf.randomNormal([2, 4], 0, 0.5, 'float32', 15));
    const x = tf.randomNormal([3, IN], 0, 1, 'float32', 16);
    const w = matrix(layer.base.parameter('weight').value);
    const b = layer.base.parameter('bias').value.arraySync() as number[];
    const first = kronecker(matrix(layer.kronaA.value), matrix(layer.kronaB.value));
    const other = kronecker(matrix(second.kronaA.value), matrix(second.kronaB.value));
    const rows = matrix(x);
    const expected = rows.map((row) => Array.from({ length: OUT }, (_, j) => row.reduce((sum, xi, i) => sum + xi * (w[i]![j]! + 0.5 * first[i]![j]! + 2 * other[i]![j]!), 0) + b[j]!));
    const both = matrix(layer.forward(x));
    both.forEach((row, n) => row.forEach((value, j) => expect(value).toBeCloseTo(expected[n]![j]!, 5)));
    // The second adapter's update is far above the tolerance, so dropping it would fail the check above.
    expect(Math.max(...rows.map((row) => Math.abs(row.reduce((sum, xi, i) => sum + xi * 2 * other[i]![0]!, 0))))).toBeGreaterThan(1e-2);
    second.merge();
    expect(second.merged).toBe(true);
    expect(layer.merged).toBe(false);
    matrix(layer.forward(x)).forEach((row, n) => row.forEach((value, j) => expect(value).toBeCloseTo(expected[n]![j]!, 5)));
    second.unmerge();
    layer.deleteAdapter('second');
    expect(layer.adapterNames()).toEqual(['default']);
    tf.dispose(x);
  });

  it('rejects factors that do not divide the feature sizes, naming the field', () => {
    const base = new Linear(IN, OUT);
    const attempt = (options: { inFactor?: number; outFactor?: number }) => {
      try {
        new KronaLinear(base, options);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const inError = attempt({ inFactor: 4 });
    expect(PeftError.hasCode(inError, 'invalid-argument')).toBe(true);
    expect((inError as PeftError).field).toBe('inFactor');
    expect((attempt({ outFactor: 3 }) as PeftError).field).toBe('outFactor');
  });

  it('keeps the tensor count flat across repeated forwards and gradient steps', () => {
    const layer = makeLayer();
    const x = tf.randomNormal([2, IN], 0, 1, 'float32', 6);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(layer.forward(x)) as tf.Scalar), [layer.kronaA.variable, layer.kronaB.variable]);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(count);
    tf.dispose(x);
  });
});
