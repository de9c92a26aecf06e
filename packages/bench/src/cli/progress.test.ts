import { describe, expect, it } from 'vitest';
import type { BenchRun } from '../report/results';
import { formatDuration, progressReporter, remainingSeconds } from './progress';

const run = (method: string, seed: number, accuracy: number): BenchRun => ({
  method,
  methodConfigs: [],
  seed,
  score: { accuracy },
  trainableParameters: 1,
  changedParameters: 1,
  totalParameters: 10,
  peakMemoryBytes: 1,
  trainTokensPerSecond: 1,
  inferenceTokensPerSecond: 1,
  adapterBytes: 1,
  steps: 10,
  wallSeconds: 12.25,
});

describe('progress without a terminal', () => {
  it('prints one line per finished or failed run with runs done, total and the overall ETA', () => {
    let clock = 0;
    let stderr = '';
    const progress = progressReporter({ stdout: () => {}, stderr: (text) => void (stderr += text), stderrIsTTY: false }, { json: false, metric: 'accuracy', now: () => clock });
    progress.onProgress({ type: 'run-start', method: 'full', seed: 1, run: 1, runs: 3, steps: 10 });
    progress.onProgress({ type: 'run-start', method: 'lora', seed: 1, run: 2, runs: 3, steps: 10 });
    clock = 30;
    progress.onProgress({ type: 'run-end', run: run('full', 1, 0.5) });
    clock = 40;
    progress.onProgress({ type: 'run-failed', failed: { method: 'lora', seed: 1, message: 'boom\nstack' }, run: 2, runs: 3 });
    clock = 60;
    progress.onProgress({ type: 'run-end', run: run('bitfit', 1, 0.25) });
    // After 1 of 3 runs in 30 s: 60 s left; after 2 in 40 s: 20 s left.
    expect(stderr.split('\n')).toEqual(['[1/3, ETA 1m00s] full seed 1: accuracy 50.0, 12.3 s', '[2/3, ETA 20s] lora seed 1 FAILED: boom', '[3/3] bitfit seed 1: accuracy 25.0, 12.3 s', '']);
  });

  it('is silent in JSON mode', () => {
    let stderr = '';
    const progress = progressReporter({ stdout: () => {}, stderr: (text) => void (stderr += text), stderrIsTTY: false }, { json: true, metric: 'accuracy' });
    progress.onProgress({ type: 'prepare', message: 'x' });
    progress.onProgress({ type: 'run-end', run: run('full', 1, 0.5) });
    expect(stderr).toBe('');
  });

  it('formats durations and estimates the time left', () => {
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(9.6)).toBe('10s');
    expect(remainingSeconds(2, 5, 10)).toBe(15);
    expect(remainingSeconds(0, 5, 10)).toBeNaN();
  });
});
