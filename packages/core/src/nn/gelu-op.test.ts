import { beforeAll, describe, expect, it } from 'vitest';
import { onBackend, prepareCpuAndWasm } from '../backend/test-support';
import { MemoryMeter } from '../meter/memory-meter';
import { geluErfOp, geluTanhOp } from './gelu-op';
import { bytesHeldForBackward, expectSameValueAndGradients, randomTensor } from './op-test-support';
import { tf } from './tf';

beforeAll(prepareCpuAndWasm);

const plainGelu = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
const plainGeluTanh = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));

describe.each(['cpu', 'wasm'] as const)('GELU ops on %s', (backend) => {
  it('erf form: the plain formulation’s output exactly and its gradient (values over [-3, 3])', () =>
    onBackend(backend, () => {
      const x = randomTensor([4, 64], 1, 3);
      expectSameValueAndGradients((input) => geluErfOp(input!), (input) => plainGelu(input!), [x]);
      x.dispose();
    }));

  it('tanh form: the plain formulation’s output exactly and its gradient', () =>
    onBackend(backend, () => {
      const x = randomTensor([4, 64], 2, 3);
      expectSameValueAndGradients((input) => geluTanhOp(input!), (input) => plainGeluTanh(input!), [x]);
      x.dispose();
    }));

  it('keeps only its input for backward', () =>
    onBackend(backend, () => {
      MemoryMeter.forBackend();
      const x = randomTensor([8, 32, 64], 3);
      const bytes = x.size * 4;
      expect(bytesHeldForBackward(geluErfOp, x)).toBe(bytes);
      expect(bytesHeldForBackward(geluTanhOp, x)).toBe(bytes);
      expect(bytesHeldForBackward(plainGelu, x)).toBeGreaterThanOrEqual(3 * bytes);
      x.dispose();
    }));
});
