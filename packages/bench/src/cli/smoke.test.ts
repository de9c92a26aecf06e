import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchResults } from '../report/results';
import type { CliIo } from './cli-io';
import { runCli } from './program';

const dirs: string[] = [];
const previousCacheDir = process.env.PEFTJS_CACHE_DIR;
afterAll(async () => {
  if (previousCacheDir === undefined) delete process.env.PEFTJS_CACHE_DIR;
  else process.env.PEFTJS_CACHE_DIR = previousCacheDir;
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('peftjs compare --smoke (what `pnpm bench -- --smoke` runs)', () => {
  it('compares the installed families against full fine-tuning on the default task and writes the report', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peftjs-smoke-'));
    dirs.push(dir);
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), stderrIsTTY: false };
    const out = join(dir, 'report');
    process.env.PEFTJS_CACHE_DIR = join(dir, 'cache');
    const code = await runCli(['compare', '--smoke', '--out', out], { io });
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(out);
    const results = parseBenchResults(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')));
    const methods = new Set(results.runs.map((run) => run.method));
    // The families the bench depends on register themselves; adding a family adds rows.
    expect([...methods].sort()).toEqual(['bitfit', 'full', 'lora']);
    const full = results.runs.find((run) => run.method === 'full')!;
    for (const run of results.runs) expect(run.trainableParameters).toBeLessThanOrEqual(full.trainableParameters);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toMatch(/\| *lora *\|/);
    const charts = await readdir(join(out, 'charts'));
    const png = charts.find((name) => name.endsWith('.png'))!;
    expect(png).toBeDefined();
    const bytes = await readFile(join(out, 'charts', png));
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // The default pool (one worker per core) trained the runs; throughput was timed one at a time after.
    expect(results.training).toMatchObject({ jobs: Math.min(3, availableParallelism()) });
    // A loss curve per method in the report.
    for (const method of methods) expect(charts).toContain(`loss-${method}.svg`);
  }, 300_000);
});
