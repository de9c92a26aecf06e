import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { MemoryMeter, measurePeakMemory, measurePeakMemoryAsync } from './memory-meter';

const FLOAT = 4;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  MemoryMeter.forBackend();
});

describe('measurePeakMemory (cpu)', () => {
  it('computes the exact peak, end and baseline of known allocations', () => {
    const resident = tf.zeros([250]);
    const meter = MemoryMeter.forBackend();
    const before = meter.liveBytes();
    const kept: tf.Tensor[] = [];
    const reading = measurePeakMemory(() => {
      const a = tf.zeros([100]);
      const b = tf.zeros([200]);
      const c = tf.zeros([300]);
      b.dispose();
      const d = tf.zeros([50]);
      c.dispose();
      kept.push(a, d);
      return 'done';
    });
    expect(reading.result).toBe('done');
    expect(reading.peakBytes).toBe((100 + 200 + 300) * FLOAT);
    expect(reading.endBytes).toBe((100 + 50) * FLOAT);
    expect(reading.baselineBytes).toBe(before);
    expect(meter.liveBytes()).toBe(before + 150 * FLOAT);
    tf.dispose([...kept, resident]);
    expect(meter.liveBytes()).toBe(before - 250 * FLOAT);
    expect(reading.baselineExact).toBe(true);
    expect(reading.backend).toBe('cpu');
  });

  it('counts a reshape view once where tf.profile counts it twice', async () => {
    const reading = measurePeakMemory(() => tf.tidy(() => {
      const x = tf.zeros([1000]);
      const view = x.reshape([10, 100]);
      return view.sum();
    }));
    reading.result.dispose();
    expect(reading.peakBytes).toBe(1000 * FLOAT + FLOAT);

    const startBytes = tf.memory().numBytes;
    const profile = await tf.profile(() => tf.tidy(() => {
      const x = tf.zeros([1000]);
      const view = x.reshape([10, 100]);
      return view.sum();
    }));
    (profile.result as tf.Tensor).dispose();
    expect(profile.peakBytes - startBytes).toBe(2 * 1000 * FLOAT + FLOAT);
  });

  it('counts a slice that views its parent buffer once (cpu shares the ArrayBuffer)', () => {
    const reading = measurePeakMemory(() => {
      const parent = tf.zeros([4, 100]);
      const rows = parent.slice([1, 0], [2, 100]);
      parent.dispose();
      return rows;
    });
    // The slice keeps the whole parent buffer alive: that is the real memory held.
    expect(reading.peakBytes).toBe(400 * FLOAT);
    expect(reading.endBytes).toBe(400 * FLOAT);
    reading.result.dispose();
  });

  it('ignores tensors freed when an exception escapes, and stops the window', () => {
    expect(() => measurePeakMemory(() => {
      throw new Error('boom');
    })).toThrow('boom');
    const again = measurePeakMemory(() => tf.tidy(() => tf.zeros([10]).add(1).sum()));
    again.result.dispose();
    // zeros(10) and add(1) live together at most, then the scalar: 20 floats + 1 at the peak.
    expect(again.peakBytes).toBe(21 * FLOAT);
  });

  it('measures async functions and nested windows independently', async () => {
    const meter = MemoryMeter.forBackend();
    const outer = meter.start();
    const inner = await measurePeakMemoryAsync(async () => {
      const a = tf.zeros([64]);
      await Promise.resolve();
      a.dispose();
      return 1;
    });
    const b = tf.zeros([32]);
    const outerReading = outer();
    b.dispose();
    expect(inner.peakBytes).toBe(64 * FLOAT);
    expect(inner.endBytes).toBe(0);
    expect(outerReading.peakBytes).toBe(64 * FLOAT);
    expect(outerReading.endBytes).toBe(32 * FLOAT);
  });

  it('returns one meter per backend', () => {
    expect(MemoryMeter.forBackend('cpu')).toBe(MemoryMeter.forBackend());
    expect(() => MemoryMeter.forBackend('no-such-backend')).toThrow(/not registered/);
  });
});
