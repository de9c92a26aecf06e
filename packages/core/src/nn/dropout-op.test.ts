import { beforeAll, describe, expect, it } from 'vitest';
import { onBackend, prepareCpuAndWasm } from '../backend/test-support';
import { MemoryMeter } from '../meter/memory-meter';
import { dropoutOp } from './dropout-op';
import { bytesHeldForBackward, expectSameValueAndGradients, randomTensor } from './op-test-support';
import { tf } from './tf';

beforeAll(prepareCpuAndWasm);

describe.each(['cpu', 'wasm'] as const)('dropoutOp on %s', (backend) => {
  it('gives tf.dropout’s values for the same seed exactly, and its gradient', () =>
    onBackend(backend, () => {
      const x = randomTensor([4, 8, 16], 1);
      expectSameValueAndGradients((input) => dropoutOp(input!, 0.3, 17), (input) => tf.dropout(input!, 0.3, undefined, 17), [x]);
      const dropped = tf.tidy(() => tf.sum(tf.equal(dropoutOp(x, 0.3, 17), 0)).dataSync()[0]!);
      // About 30% of 512 entries dropped: the mask is really applied.
      expect(dropped).toBeGreaterThan(100);
      expect(dropped).toBeLessThan(220);
      x.dispose();
    }));

  it('keeps a one-byte mask for backward where tf.dropout keeps x and a float multiplier', () =>
    onBackend(backend, () => {
      MemoryMeter.forBackend();
      const x = randomTensor([8, 32, 64], 2);
      // The input is an intermediate (2x), so keeping it shows in the live bytes.
      const ours = bytesHeldForBackward((h) => dropoutOp(h, 0.1, 3), x);
      const plain = bytesHeldForBackward((h) => tf.dropout(h, 0.1, undefined, 3), x);
      expect(ours).toBe(x.size);
      expect(plain).toBeGreaterThanOrEqual(2 * x.size * 4);
      x.dispose();
    }));
});
