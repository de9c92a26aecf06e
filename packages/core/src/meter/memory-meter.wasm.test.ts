import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { MemoryMeter, measurePeakMemory } from './memory-meter';

const FLOAT = 4;

beforeAll(async () => {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const distDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  wasm.setWasmPaths(`${distDir}${path.sep}`);
  await tf.setBackend('wasm');
  await tf.ready();
  MemoryMeter.forBackend();
});

describe('measurePeakMemory (wasm)', () => {
  it('runs on the wasm backend with the exact peak of known allocations', () => {
    expect(tf.getBackend()).toBe('wasm');
    const kept: tf.Tensor[] = [];
    const reading = measurePeakMemory(() => {
      const a = tf.zeros([100]);
      const b = tf.ones([200]);
      const c = tf.ones([300]);
      b.dispose();
      kept.push(a, tf.ones([50]));
      c.dispose();
    });
    expect(reading.backend).toBe('wasm');
    expect(reading.peakBytes).toBe(600 * FLOAT);
    expect(reading.endBytes).toBe(150 * FLOAT);
    tf.dispose(kept);
  });

  it('counts a reshape view once (wasm shares the buffer) and a clone twice (wasm copies)', () => {
    const viewed = measurePeakMemory(() => tf.tidy(() => tf.ones([1000]).reshape([10, 100]).sum()));
    viewed.result.dispose();
    expect(viewed.peakBytes).toBe(1000 * FLOAT + FLOAT);

    const cloned = measurePeakMemory(() => {
      const x = tf.ones([1000]);
      const copy = x.clone();
      tf.dispose([x, copy]);
    });
    expect(cloned.peakBytes).toBe(2 * 1000 * FLOAT);
  });
});
