import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRegistry } from '@peftjs/core';
import { afterAll, describe, expect, it } from 'vitest';
import { suiteMethods } from '../cli/compare-command';
import { compareMethods } from './compare-methods';
import { loadInstalledMethodFamilies } from './method-discovery';
import { tinyBackbone, toyTask } from './test-support';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('--suite survey', () => {
  it('runs every registered method and hybrid, records the runs that fail with their error and goes on', async () => {
    await loadInstalledMethodFamilies();
    const methods = suiteMethods('survey', defaultRegistry);
    // Every registered method of every installed family, then the hybrids.
    expect(methods[0]).toBe('full');
    for (const name of ['lora', 'adalora', 'bitfit', 'ln-tuning', 'mam', 'unipelt', 's4']) expect(methods).toContain(name);
    const out = await mkdtemp(join(tmpdir(), 'peftjs-survey-'));
    dirs.push(out);
    const { results } = await compareMethods({ task: toyTask(), methods, seeds: 1, steps: 2, batchSize: 8, backbone: tinyBackbone(), backend: 'wasm', continueOnError: true, evalPoints: 0, outDir: out });
    const ran = new Set(results.runs.map((run) => run.method));
    const failed = new Map((results.failedRuns ?? []).map((run) => [run.method, run]));
    // Each method has a row or a recorded failure, none both.
    for (const name of methods) expect(ran.has(name) !== failed.has(name)).toBe(true);
    expect(ran.has('lora')).toBe(true);
    expect(ran.has('bitfit')).toBe(true);
    // The hybrids whose families are not installed yet fail with the package to install.
    expect(failed.get('mam')).toMatchObject({ code: 'unknown-method' });
    expect(failed.get('mam')!.message).toContain('@peftjs/prompts');
    expect(failed.get('s4')!.message).toMatch(/@peftjs\/(adapters|prompts)/);
    expect(results.runs.find((run) => run.method === 'lora')!.family).toBe('@peftjs/lora');
    expect(results.runs.find((run) => run.method === 'bitfit')!.family).toBe('@peftjs/selective');
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toContain('## By family');
    expect(report).toContain('### @peftjs/lora');
    expect(report).toContain('### @peftjs/selective');
    expect(report).toMatch(/## Failed runs[\s\S]*\| mam \| 1 \| `unknown-method` /);
  }, 240_000);
});
