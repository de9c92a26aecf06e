import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeftError } from '@peftjs/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBenchResults, readResultsJson, writeResultsJson } from './results';
import { reportFixture } from './test-fixture';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peftjs-results-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('results.json', () => {
  it('round-trips through writeResultsJson and readResultsJson, leaving no temporary file', async () => {
    const results = reportFixture();
    const path = await writeResultsJson(dir, results);
    expect(path).toBe(join(dir, 'results.json'));
    expect(await readdir(dir)).toEqual(['results.json']);
    expect(await readResultsJson(dir)).toEqual(results);
    expect(await readResultsJson(path)).toEqual(results);
    expect(JSON.parse(await readFile(path, 'utf8')).runs[0].method).toBe('full');
  });

  it('rejects a file whose run lacks the task metric, naming the field', async () => {
    const results = reportFixture() as unknown as { runs: Array<{ score: Record<string, number> }> };
    results.runs[2]!.score = { f1: 0.5 };
    await writeFile(join(dir, 'results.json'), JSON.stringify(results));
    const error = await readResultsJson(dir).catch((caught: unknown) => caught);
    expect(PeftError.hasCode(error, 'invalid-config')).toBe(true);
    expect((error as PeftError).field).toBe('runs.2.score.accuracy');
  });

  it('refuses to write invalid results (negative memory, unknown schema version)', async () => {
    const negative = reportFixture();
    negative.runs[0]!.peakMemoryBytes = -1;
    await expect(writeResultsJson(dir, negative)).rejects.toMatchObject({ code: 'invalid-config', field: 'runs.0.peakMemoryBytes', value: -1 });
    expect(() => parseBenchResults({ ...reportFixture(), schemaVersion: 2 })).toThrowError(/schemaVersion/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('rejects more trainable than total parameters', () => {
    const results = reportFixture();
    results.runs[1]!.trainableParameters = 2_000_000;
    expect(() => parseBenchResults(results)).toThrowError(/runs\.1\.trainableParameters/);
  });
});
