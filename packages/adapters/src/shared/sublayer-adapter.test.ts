import { Module, tf, type LayerContext } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SublayerAdapter, type AdapterPlacement } from './sublayer-adapter';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A sublayer f(x) = 2x, so the base output is known by hand. */
class Doubling extends Module<[tf.Tensor, LayerContext], tf.Tensor> {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.mul(x, 2);
  }
}

/** A "LayerNorm" stand-in n(v) = v − 1, to see where after-norm reads. */
class MinusOne extends Module<[tf.Tensor], tf.Tensor> {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.sub(x, 1);
  }
}

function layerWith(placement: AdapterPlacement, scaling: number): SublayerAdapter {
  const layer = new SublayerAdapter(new Doubling(), 2);
  const adapter = layer.addAdapter('default', 'test', { placement, width: 1, activation: 'relu', scaling, norm: new MinusOne() });
  // W_down = [[1], [-1]], b_down = [0.5]; W_up = [[3, -2]], b_up = [0.25, 0]
  adapter.parameters.get('adapterDown').assign(tf.tensor2d([[1], [-1]]));
  adapter.parameters.get('adapterDownBias').assign(tf.tensor1d([0.5]));
  adapter.parameters.get('adapterUp').assign(tf.tensor2d([[3, -2]]));
  adapter.parameters.get('adapterUpBias').assign(tf.tensor1d([0.25, 0]));
  return layer;
}

// A(v) = relu(v0 − v1 + 0.5)·[3, −2] + [0.25, 0]
const A = (v: number[]) => {
  const z = Math.max(0, v[0]! - v[1]! + 0.5);
  return [3 * z + 0.25, -2 * z];
};

describe('SublayerAdapter by hand (x = [1, -0.5], f(x) = 2x = [2, -1])', () => {
  const x = [1, -0.5];
  const f = [2, -1];
  it('sequential: f(x) + A(f(x))', () => {
    const out = layerWith('sequential', 1).forward(tf.tensor3d([[x]]), {}).dataSync();
    const a = A(f); // relu(3.5) = 3.5 → [10.75, -7]
    expect(a).toEqual([10.75, -7]);
    expect(Array.from(out)).toEqual([f[0]! + a[0]!, f[1]! + a[1]!]);
  });
  it('parallel with s = 4: f(x) + 4·A(x)', () => {
    const out = layerWith('parallel', 4).forward(tf.tensor3d([[x]]), {}).dataSync();
    const a = A(x); // relu(2) = 2 → [6.25, -4]
    expect(Array.from(out)).toEqual([f[0]! + 4 * a[0]!, f[1]! + 4 * a[1]!]);
  });
  it('after-norm: f(x) + A(n(x + f(x)))', () => {
    const out = layerWith('after-norm', 1).forward(tf.tensor3d([[x]]), {}).dataSync();
    const a = A([x[0]! + f[0]! - 1, x[1]! + f[1]! - 1]); // n = [2, -2.5] → relu(5) = 5 → [15.25, -10]
    expect(Array.from(out)).toEqual([f[0]! + a[0]!, f[1]! + a[1]!]);
  });
  it('adds nothing at init (W_up = 0)', () => {
    const layer = new SublayerAdapter(new Doubling(), 2);
    layer.addAdapter('default', 'test', { placement: 'sequential', width: 1, activation: 'relu', scaling: 1 });
    expect(Array.from(layer.forward(tf.tensor3d([[x]]), {}).dataSync())).toEqual(f);
  });
});
