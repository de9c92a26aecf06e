import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init-backend';
import { MemoryMeter, measurePeakMemory } from '../meter/memory-meter';
import { LayerNorm } from '../nn/layer-norm';
import { Linear } from '../nn/linear';
import { tf } from '../nn/tf';
import { setGlobalSeed } from '../util/random';
import { noGrad } from './no-grad';
import { recomputeGradients } from './recompute-gradients';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  MemoryMeter.forBackend();
});

describe('gradient control on wasm (with peftjs kernels)', () => {
  it('recompute gives the plain-tape gradients, at a lower real peak, and noGrad keeps frozen layers off the tape', () => {
    expect(tf.getBackend()).toBe('wasm');
    setGlobalSeed(8);
    const width = 32;
    const layers = Array.from({ length: 6 }, () => ({ linear: new Linear(width, width), norm: new LayerNorm(width, { eps: 1e-5 }) }));
    const forward = (i: number) => (h: tf.Tensor) => tf.tidy(() => layers[i]!.norm.forward(tf.add(h, tf.tanh(layers[i]!.linear.forward(h)))));
    const stages = layers.map((layer, i) => ({ forward: forward(i), parameters: [...layer.linear.parameters(), ...layer.norm.parameters()] }));
    const input = tf.randomNormal([16, 8, width], 0, 1, 'float32', 3);
    // A fixed random-weighted sum: O(1) gradients on every layer. (The mean of squares of a LayerNorm output with
    // gamma = 1, beta = 0 is constant, and would leave every layer but the last norm with zero gradient.)
    const lossWeights = tf.randomNormal([16, 8, width], 0, 1, 'float32', 4);
    const loss = (h: tf.Tensor) => tf.tidy(() => tf.div(tf.sum(tf.mul(h, lossWeights)), Math.sqrt(16 * 8)) as tf.Scalar);
    const variables = stages.flatMap((s) => s.parameters.map((p) => p.variable));

    const recomputed = measurePeakMemory(() => recomputeGradients({ input, stages, loss }));
    const plain = measurePeakMemory(() => tf.variableGrads(() => loss(stages.reduce((h, s) => s.forward(h), input)), variables));
    for (const stage of stages) {
      for (const parameter of stage.parameters) {
        const reference = plain.result.grads[parameter.variable.name]!;
        const size = tf.tidy(() => tf.max(tf.abs(reference)).dataSync()[0]!);
        expect(size, 'the compared gradient is far above the tolerance').toBeGreaterThan(1e-3);
        const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(recomputed.result.gradients.get(parameter)!, plain.result.grads[parameter.variable.name]!))).dataSync()[0]!);
        expect(difference).toBeLessThanOrEqual(1e-6);
      }
    }
    expect(recomputed.peakBytes).toBeLessThan(plain.peakBytes);
    tf.dispose([recomputed.result.loss, ...recomputed.result.gradients.values(), plain.result.value, ...Object.values(plain.result.grads)]);

    const lastOnly = stages[5]!.parameters.map((p) => p.variable);
    const step = (untaped: boolean) => () => {
      const { value, grads } = tf.variableGrads(() => {
        const frozenPart = () => stages.slice(0, 5).reduce((h, s) => s.forward(h), input);
        return loss(stages[5]!.forward(untaped ? noGrad(frozenPart) : frozenPart()));
      }, lastOnly);
      tf.dispose([value, ...Object.values(grads)]);
    };
    const withTape = measurePeakMemory(step(false));
    const withoutTape = measurePeakMemory(step(true));
    // Each frozen layer's tape holds at least its input activation; noGrad holds none.
    expect(withTape.peakBytes - withoutTape.peakBytes).toBeGreaterThanOrEqual(4 * 16 * 8 * width * 4);
    tf.dispose([input, lossWeights]);
    for (const layer of layers) [...layer.linear.parameters(), ...layer.norm.parameters()].forEach((p) => p.dispose());
  });
});
