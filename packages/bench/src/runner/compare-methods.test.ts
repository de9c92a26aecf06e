import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peft, PeftError, tf } from '@peftjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeResults } from '../report/summary';
import { compareMethods } from './compare-methods';
import { isOutOfMemoryError, memorySweep } from './memory-sweep';
import { resolveMethodRuns } from './method-spec';
import { prepareTask } from './prepare-task';
import { testBiasMethod, testRegistry, tinyBackbone, toyTask } from './test-support';

let outDir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  outDir = await mkdtemp(join(tmpdir(), 'peftjs-compare-'));
});

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('compareMethods', () => {
  it('runs full and a registry method with two seeds into consistent results and a report', async () => {
    const registry = testRegistry();
    const events: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const { results, files } = await compareMethods({
      task: toyTask(),
      methods: ['test-bias'],
      seeds: 2,
      steps: 4,
      batchSize: 8,
      backbone: tinyBackbone(),
      registry,
      memoryBatchSizes: [2, 4],
      outDir,
      onProgress: (event) => events.push(event.type),
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(results.runs.map((run) => `${run.method}:${run.seed}`)).toEqual(['full:1', 'test-bias:1', 'full:2', 'test-bias:2']);
    expect(events.filter((type) => type === 'step')).toHaveLength(16);

    // Trainable counts equal the PeftModel report of the same method on the same backbone.
    const prepared = await prepareTask(toyTask(), tinyBackbone());
    const model = await prepared.backbone.createModel({ task: prepared.modelTask, numLabels: 2, seed: 1 });
    const expectedBiases = model.namedParameters().filter(([, p]) => p.kind === 'bias').reduce((n, [, p]) => n + p.size, 0);
    const report = peft(model, [testBiasMethod()]).report();
    model.dispose();
    expect(report.trainable).toBe(expectedBiases);
    expect(results.model.parameters).toBe(report.total);

    for (const run of results.runs) {
      expect(run.score.accuracy).toBeGreaterThanOrEqual(0);
      expect(run.score.accuracy).toBeLessThanOrEqual(1);
      expect(run.steps).toBe(4);
      expect(run.lossCurve).toHaveLength(4);
      expect(run.peakMemoryBytes).toBeGreaterThan(0);
      expect(run.trainTokensPerSecond).toBeGreaterThan(0);
      expect(run.inferenceTokensPerSecond).toBeGreaterThan(0);
      if (run.method === 'full') {
        expect(run.trainableParameters).toBe(report.total);
        expect(run.totalParameters).toBe(report.total);
        // float32 weights plus the safetensors header
        expect(run.adapterBytes).toBeGreaterThan(4 * report.total);
      } else {
        expect(run.trainableParameters).toBe(report.trainable);
        expect(run.totalParameters).toBe(report.total);
        expect(run.changedParameters).toBeGreaterThan(0);
        expect(run.changedParameters).toBeLessThanOrEqual(report.trainable);
        expect(run.adapterBytes).toBeGreaterThan(4 * report.trainable);
        expect(run.adapterBytes).toBeLessThan(4 * report.total);
      }
    }
    // Full fine-tuning needs the moments of every parameter: more memory than training biases.
    const meanPeak = (method: string) => results.runs.filter((r) => r.method === method).reduce((s, r) => s + r.peakMemoryBytes, 0) / 2;
    expect(meanPeak('full')).toBeGreaterThan(meanPeak('test-bias'));

    const summary = summarizeResults(results);
    const full = summary.methods.find((row) => row.method === 'full')!;
    expect(full.trainablePercent).toBeCloseTo(100);
    expect(full.peakMemoryRatio).toBeCloseTo(1);
    expect(full.trainThroughputPercent).toBeCloseTo(100);
    expect(full.inferenceThroughputPercent).toBeCloseTo(100);

    expect(results.memorySweep?.map((point) => `${point.method}@${point.batch}`)).toEqual(['full@2', 'full@4', 'test-bias@2', 'test-bias@4']);
    expect(files.some((file) => file.endsWith('results.json'))).toBe(true);
    expect(files.some((file) => file.endsWith('report.md'))).toBe(true);
    expect((await readdir(join(outDir, 'charts'))).some((file) => file.endsWith('.png'))).toBe(true);
  });

  it('names the registered methods and the providing package for an unknown one', () => {
    const registry = testRegistry();
    expect(() => resolveMethodRuns(['lora'], registry)).toThrow(/unknown method "lora".*@peftjs\/lora.*Registered: full, test-bias/);
    let caught: unknown;
    try {
      resolveMethodRuns(['nope'], registry);
    } catch (error) {
      caught = error;
    }
    expect(PeftError.hasCode(caught, 'unknown-method')).toBe(true);
    expect((caught as PeftError).field).toBe('methods');
    expect((caught as PeftError).allowed).toEqual(['full', 'test-bias']);
    expect(() => resolveMethodRuns(['full', 'full'], registry)).toThrow(/listed twice/);
  });
});

describe('memorySweep', () => {
  it('reports peaks that grow with the batch size', async () => {
    const prepared = await prepareTask(toyTask(), tinyBackbone());
    const { points, stopped } = await memorySweep({ methods: ['full', 'test-bias'], batchSizes: [16, 4, 8], task: prepared, registry: testRegistry() });
    expect(stopped).toEqual([]);
    for (const method of ['full', 'test-bias']) {
      const peaks = points.filter((point) => point.method === method);
      expect(peaks.map((point) => point.batch)).toEqual([4, 8, 16]);
      expect(peaks[1]!.peakBytes).toBeGreaterThan(peaks[0]!.peakBytes);
      expect(peaks[2]!.peakBytes).toBeGreaterThan(peaks[1]!.peakBytes);
    }
  });

  it('stops a method at a batch larger than the data and recognises out-of-memory errors', async () => {
    const prepared = await prepareTask(toyTask(), tinyBackbone());
    const { points, stopped } = await memorySweep({ methods: ['full'], batchSizes: [32, 64], task: prepared });
    expect(points.map((point) => point.batch)).toEqual([32]);
    expect(stopped).toEqual([{ method: 'full', batch: 64, reason: 'the train split has only 48 examples' }]);
    expect(isOutOfMemoryError(new Error('RuntimeError: memory access out of bounds'))).toBe(true);
    expect(isOutOfMemoryError(new Error('Invalid shape'))).toBe(false);
  });
});
