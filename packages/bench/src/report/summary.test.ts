import { describe, expect, it } from 'vitest';
import { seedStatistic, summarizeResults } from './summary';
import { reportFixture } from './test-fixture';

describe('seedStatistic', () => {
  it('gives the mean and the sample standard deviation (n − 1)', () => {
    // mean 5; squared deviations 9 + 1 + 1 + 9 = 20; 20 / 3.
    const { mean, std } = seedStatistic([2, 4, 6, 8]);
    expect(mean).toBe(5);
    expect(std).toBeCloseTo(Math.sqrt(20 / 3), 12);
  });

  it('gives no std for a single seed', () => {
    expect(seedStatistic([0.75])).toEqual({ mean: 0.75, std: null });
  });
});

describe('summarizeResults', () => {
  it('aggregates each method over seeds against the full fine-tuning runs', () => {
    const summary = summarizeResults(reportFixture());
    expect(summary.metric).toBe('accuracy');
    expect(summary.hasFull).toBe(true);
    // full first, then by trainable %: bitfit 0.1% before lora 2%.
    expect(summary.methods.map((method) => method.method)).toEqual(['full', 'bitfit', 'lora']);
    const [full, bitfit, lora] = summary.methods;

    expect(full!.seeds).toBe(2);
    expect(full!.score.mean).toBeCloseTo(0.82, 12);
    expect(full!.score.std).toBeCloseTo(Math.sqrt(0.0008), 12); // (0.02² + 0.02²) / 1
    expect(full!.scores.f1!.mean).toBeCloseTo(0.72, 12);
    expect(full!.trainablePercent).toBe(100);
    expect(full!.peakMemoryBytes).toBe(210_000_000);
    expect(full!.peakMemoryRatio).toBe(1);
    expect(full!.trainThroughputPercent).toBe(100);
    expect(full!.wallSeconds).toBe(11);

    expect(lora!.score.mean).toBeCloseTo(0.785, 12);
    expect(lora!.score.std).toBeCloseTo(Math.sqrt(2 * 0.005 ** 2), 12);
    expect(lora!.trainableParameters).toBe(20_400);
    expect(lora!.trainablePercent).toBeCloseTo(2, 12); // 20,400 / 1,020,000
    expect(lora!.changedParameters).toBe(306_000);
    expect(lora!.changedPercent).toBeCloseTo(30, 12); // 306,000 / 1,020,000
    expect(lora!.peakMemoryRatio).toBeCloseTo(0.5, 12); // 105 MB / 210 MB
    expect(lora!.trainThroughputPercent).toBeCloseTo(120, 12); // 1320 / 1100
    expect(lora!.inferenceThroughputPercent).toBeCloseTo(75, 12); // 3150 / 4200
    expect(lora!.adapterBytes).toBe(81_984);

    expect(bitfit!.seeds).toBe(1);
    expect(bitfit!.score).toEqual({ mean: 0.75, std: null });
    expect(bitfit!.trainablePercent).toBeCloseTo(0.1, 12);
    expect(bitfit!.peakMemoryRatio).toBeCloseTo(0.4, 12); // 84 / 210
    expect(bitfit!.trainThroughputPercent).toBeCloseTo(150, 12); // 1650 / 1100
    expect(bitfit!.inferenceThroughputPercent).toBeCloseTo(100, 12);
  });

  it('leaves the ratios null without a full run', () => {
    const results = reportFixture();
    results.runs = results.runs.filter((run) => run.method !== 'full');
    const summary = summarizeResults(results);
    expect(summary.hasFull).toBe(false);
    expect(summary.methods.map((method) => method.method)).toEqual(['bitfit', 'lora']);
    for (const method of summary.methods) {
      expect(method.peakMemoryRatio).toBeNull();
      expect(method.trainThroughputPercent).toBeNull();
      expect(method.inferenceThroughputPercent).toBeNull();
    }
    expect(summary.methods[1]!.peakMemoryBytes).toBe(105_000_000);
  });

  it('reports changed parameters as unmeasured when a run did not track them', () => {
    const results = reportFixture();
    results.runs[3]!.changedParameters = null;
    const lora = summarizeResults(results).methods.find((method) => method.method === 'lora')!;
    expect(lora.changedParameters).toBeNull();
    expect(lora.changedPercent).toBeNull();
  });
});
