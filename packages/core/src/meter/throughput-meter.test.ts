import { describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { ThroughputMeter, measureThroughput, measureThroughputAsync } from './throughput-meter';

/** A fake clock: each step advances time by the next duration in the list. */
function fakeClock(durations: number[]) {
  let time = 0;
  let calls = 0;
  const now = () => {
    // Odd calls end a step: advance by that step's duration.
    if (calls % 2 === 1) time += durations[(calls - 1) / 2]!;
    calls += 1;
    return time;
  };
  return now;
}

describe('ThroughputMeter', () => {
  it('excludes warm-up steps and divides counted tokens by counted time', () => {
    // Warm-up takes 900 ms; then 100 ms + 300 ms for 64 + 64 tokens: 128 tokens / 0.4 s = 320/s.
    const meter = new ThroughputMeter({ warmupSteps: 1, now: fakeClock([900, 100, 300]) });
    expect(meter.step(64, () => 'a')).toBe('a');
    meter.step(64, () => 'b');
    meter.step(64, () => 'c');
    expect(meter.reading()).toEqual({ steps: 2, tokens: 128, milliseconds: 400, tokensPerSecond: 320, stepsPerSecond: 5, warmupStepsSeen: 1 });
  });

  it('reads zero before any counted step and rejects bad input', () => {
    const meter = new ThroughputMeter({ warmupSteps: 2 });
    meter.record(10, 5);
    expect(meter.reading().tokensPerSecond).toBe(0);
    expect(meter.reading().warmupStepsSeen).toBe(1);
    expect(() => meter.record(-1, 1)).toThrow(PeftError);
    expect(() => new ThroughputMeter({ warmupSteps: 1.5 })).toThrow(/warmupSteps/);
  });

  it('measureThroughput runs warm-up plus counted steps with per-step token counts', () => {
    const seen: number[] = [];
    const reading = measureThroughput((index) => seen.push(index), {
      steps: 2,
      warmupSteps: 2,
      tokensPerStep: (index) => 10 * (index + 1),
      now: fakeClock([1000, 1000, 250, 750]),
    });
    expect(seen).toEqual([0, 1, 2, 3]);
    // Counted: steps 2 and 3 with 30 + 40 tokens over 1 s.
    expect(reading.tokens).toBe(70);
    expect(reading.tokensPerSecond).toBe(70);
  });

  it('measureThroughputAsync awaits each step', async () => {
    let finished = 0;
    const reading = await measureThroughputAsync(async () => {
      await Promise.resolve();
      finished += 1;
    }, { steps: 3, warmupSteps: 0, tokensPerStep: 8, now: fakeClock([500, 500, 1000]) });
    expect(finished).toBe(3);
    expect(reading.tokensPerSecond).toBe(12);
  });
});
