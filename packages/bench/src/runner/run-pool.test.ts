import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SMOKE_PRESET } from '../cli/presets';
import { scratchBackbone } from './backbone';
import { compareMethods } from './compare-methods';
import { loadInstalledMethodFamilies } from './method-discovery';
import { findTask, subsetTask } from './task-catalog';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('the run pool', () => {
  it('gives the sequential results (same seeds) on the smoke preset, merged in run order', async () => {
    await loadInstalledMethodFamilies();
    const cacheDir = await mkdtemp(join(tmpdir(), 'peftjs-pool-'));
    dirs.push(cacheDir);
    const task = subsetTask(findTask('sotu-era', 'task').build(), { train: 400, validation: 32, test: 64 });
    const common = {
      task,
      methods: ['full', 'lora+bitfit'],
      seeds: [1, 2],
      steps: 12,
      batchSize: SMOKE_PRESET.batchSize,
      backbone: scratchBackbone({ ...SMOKE_PRESET.backbone, cacheDir }),
      evalPoints: 2,
      backend: 'wasm' as const,
    };
    const sequential = await compareMethods({ ...common, jobs: 1 });
    const pooled = await compareMethods({ ...common, jobs: 2 });
    const key = (run: { method: string; seed: number }) => `${run.method}/${run.seed}`;
    expect(pooled.results.runs.map(key)).toEqual(['full/1', 'lora+bitfit/1', 'full/2', 'lora+bitfit/2']);
    expect(pooled.results.runs.map(key)).toEqual(sequential.results.runs.map(key));
    pooled.results.runs.forEach((run, i) => {
      const reference = sequential.results.runs[i]!;
      expect(run.lossCurve!.length).toBe(12);
      run.lossCurve!.forEach((point, step) => expect(point.loss).toBeCloseTo(reference.lossCurve![step]!.loss, 4));
      expect(run.score.accuracy).toBeCloseTo(reference.score.accuracy!, 6);
      expect(run.evalCurve).toEqual(reference.evalCurve);
      expect(run.trainableParameters).toBe(reference.trainableParameters);
      expect(run.changedParameters).toBe(reference.changedParameters);
      // Peak memory counts the process's own tensors, so a sibling process does not change it; a
      // fresh worker holds a few cached tensors fewer than the warmed-up main process (< 2%).
      expect(Math.abs(run.peakMemoryBytes - reference.peakMemoryBytes) / reference.peakMemoryBytes).toBeLessThan(0.02);
    });
    // Different seeds really differ (the comparison above could not pass by accident).
    expect(pooled.results.runs[1]!.lossCurve![11]!.loss).not.toBeCloseTo(pooled.results.runs[3]!.lossCurve![11]!.loss, 4);
    expect(pooled.results.training).toMatchObject({ jobs: 2 });
    expect(String(pooled.results.training!.throughputMeasurement)).toMatch(/one method at a time/);
  }, 240_000);
});
