import type { BenchResults, BenchRun } from './results';

/**
 * Small results for the report's tests, with round numbers so that every expected value can be
 * computed by hand: full (2 seeds), lora (2 seeds), bitfit (1 seed).
 */
export function reportFixture(): BenchResults {
  const run = (overrides: Partial<BenchRun> & Pick<BenchRun, 'method' | 'seed'>): BenchRun => ({
    methodConfigs: [],
    score: { accuracy: 0 },
    trainableParameters: 1_000_000,
    changedParameters: 1_000_000,
    totalParameters: 1_000_000,
    peakMemoryBytes: 0,
    trainTokensPerSecond: 1,
    inferenceTokensPerSecond: 1,
    adapterBytes: 4_000_000,
    steps: 100,
    wallSeconds: 10,
    ...overrides,
  });
  const lora = { name: 'lora', config: { r: 8, alpha: 16, target: ['attention.query', 'attention.value'] } };
  return {
    schemaVersion: 1,
    createdAt: '2026-11-22T13:00:00.000Z',
    backend: { name: 'cpu', native: false, gpu: false },
    machine: { platform: 'linux', cpus: 2, node: 'v20.19.0' },
    versions: { '@peftjs/core': '0.0.0' },
    task: { name: 'sotu-era', type: 'sequence-classification', metric: 'accuracy', sizes: { train: 80, validation: 10, test: 10 } },
    model: { name: 'bench-mini', config: { hidden: 32, layers: 2 }, parameters: 1_000_000 },
    training: { batchSize: 8, maxLength: 16, epochs: 1 },
    runs: [
      run({ method: 'full', seed: 1, score: { accuracy: 0.8, f1: 0.7 }, peakMemoryBytes: 200_000_000, trainTokensPerSecond: 1000, inferenceTokensPerSecond: 4000, wallSeconds: 10, lossCurve: [{ step: 0, loss: 1.6 }, { step: 100, loss: 0.6 }] }),
      run({ method: 'full', seed: 2, score: { accuracy: 0.84, f1: 0.74 }, peakMemoryBytes: 220_000_000, trainTokensPerSecond: 1200, inferenceTokensPerSecond: 4400, wallSeconds: 12 }),
      run({ method: 'lora', seed: 1, methodConfigs: [lora], score: { accuracy: 0.78, f1: 0.7 }, trainableParameters: 20_400, changedParameters: 306_000, totalParameters: 1_020_000, peakMemoryBytes: 105_000_000, trainTokensPerSecond: 1320, inferenceTokensPerSecond: 3150, adapterBytes: 81_984 }),
      run({ method: 'lora', seed: 2, methodConfigs: [lora], score: { accuracy: 0.79, f1: 0.72 }, trainableParameters: 20_400, changedParameters: 306_000, totalParameters: 1_020_000, peakMemoryBytes: 105_000_000, trainTokensPerSecond: 1320, inferenceTokensPerSecond: 3150, adapterBytes: 81_984 }),
      run({ method: 'bitfit', seed: 1, methodConfigs: [{ name: 'bitfit', config: {} }], score: { accuracy: 0.75, f1: 0.6 }, trainableParameters: 1_000, changedParameters: 1_000, peakMemoryBytes: 84_000_000, trainTokensPerSecond: 1650, inferenceTokensPerSecond: 4200, adapterBytes: 4_120 }),
    ],
    memorySweep: [
      { method: 'full', batch: 1, peakBytes: 100_000_000 },
      { method: 'full', batch: 2, peakBytes: 150_000_000 },
      { method: 'full', batch: 4, peakBytes: 250_000_000 },
      { method: 'lora', batch: 1, peakBytes: 60_000_000 },
      { method: 'lora', batch: 2, peakBytes: 80_000_000 },
      { method: 'lora', batch: 4, peakBytes: 120_000_000 },
    ],
  };
}
