import { beforeAll, describe, expect, it } from 'vitest';
import { onBackend, prepareCpuAndWasm } from '../backend/test-support';
import { MemoryMeter } from '../meter/memory-meter';
import { layerNormOp } from './layer-norm-op';
import { bytesHeldForBackward, expectSameValueAndGradients, randomTensor } from './op-test-support';
import { tf } from './tf';

beforeAll(prepareCpuAndWasm);

function plainLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, x.rank - 1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
}

describe.each(['cpu', 'wasm'] as const)('layerNormOp on %s', (backend) => {
  it('gives the plain formulation’s output exactly and its gradients for x, gamma and beta (gamma, beta random)', () =>
    onBackend(backend, () => {
      const inputs = [randomTensor([3, 5, 16], 1, 2), tf.add(1, randomTensor([16], 2, 0.5)), randomTensor([16], 3)];
      expectSameValueAndGradients((x, g, b) => layerNormOp(x!, g!, b!, 1e-5), (x, g, b) => plainLayerNorm(x!, g!, b!), inputs, { tolerance: 2e-5 });
      tf.dispose(inputs);
    }));

  it('keeps the normalised value and one scale per row for backward', () =>
    onBackend(backend, () => {
      MemoryMeter.forBackend();
      const x = randomTensor([8, 32, 64], 4);
      const gamma = tf.ones([64]);
      const beta = tf.zeros([64]);
      const rows = 8 * 32;
      expect(bytesHeldForBackward((h) => layerNormOp(h, gamma, beta, 1e-5), x)).toBe((x.size + rows) * 4);
      expect(bytesHeldForBackward((h) => plainLayerNorm(h, gamma, beta), x)).toBeGreaterThan(2 * x.size * 4);
      tf.dispose([x, gamma, beta]);
    }));
});
