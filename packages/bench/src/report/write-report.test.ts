import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskCard } from '../tasks/task-card';
import { readResultsJson } from './results';
import { formatComparisonMarkdown } from './table';
import { reportFixture } from './test-fixture';
import { writeReport } from './write-report';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peftjs-report-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const card: TaskCard = {
  name: 'sotu-era',
  type: 'sequence-classification',
  metric: 'accuracy',
  labels: ['1790-1860', '1861-1900'],
  splits: {
    train: { examples: 80, documents: 8, perLabel: { '1790-1860': 40, '1861-1900': 40 } },
    validation: { examples: 10, documents: 1, perLabel: { '1790-1860': 10, '1861-1900': 0 } },
    test: { examples: 10, documents: 1, perLabel: { '1790-1860': 0, '1861-1900': 10 } },
  },
  baselines: { majority: 0.5, bagOfWords: 0.625, bagOfWordsModel: 'multinomial-naive-bayes' },
};

describe('writeReport', () => {
  it('writes results.json, an SVG and a PNG per chart and report.md, and lists them', async () => {
    const results = reportFixture();
    const files = await writeReport(dir, results, { taskCard: card, scale: 1 });
    const charts = ['score-vs-trainable', 'memory-vs-batch', 'throughput', 'loss-full'];
    expect(files).toEqual([
      join(dir, 'results.json'),
      ...charts.flatMap((name) => [join(dir, 'charts', `${name}.svg`), join(dir, 'charts', `${name}.png`)]),
      join(dir, 'report.md'),
    ]);
    // Nothing else (no temporary files) is left behind.
    expect((await readdir(dir)).sort()).toEqual(['charts', 'report.md', 'results.json']);
    expect((await readdir(join(dir, 'charts'))).sort()).toEqual(charts.flatMap((name) => [`${name}.png`, `${name}.svg`]).sort());

    expect(await readResultsJson(dir)).toEqual(results);
    const png = await readFile(join(dir, 'charts', 'throughput.png'));
    expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(await readFile(join(dir, 'charts', 'memory-vs-batch.svg'), 'utf8')).toMatch(/^<svg /);

    const markdown = await readFile(join(dir, 'report.md'), 'utf8');
    expect(markdown.startsWith('# peftjs benchmark: sotu-era on bench-mini\n')).toBe(true);
    expect(markdown).toContain(formatComparisonMarkdown(results));
    expect(markdown).toContain('Backend: cpu (JavaScript/WebAssembly kernels on CPU)');
    expect(markdown).toContain('**sotu-era** (sequence-classification): train / validation / test examples 80 / 10 / 10; metric accuracy.');
    expect(markdown).toContain('2 labels (1790-1860, 1861-1900). Baselines on the test split: majority 50.0%, bag of words (multinomial-naive-bayes) 62.5%.');
    for (const name of charts) expect(markdown).toContain(`](charts/${name}.png)`);
    expect(markdown).toContain('- **lora** (seeds 1, 2): `[{"name":"lora","config":{"r":8,"alpha":16,"target":["attention.query","attention.value"]}}]`');
    expect(markdown).toContain('- **full** (seeds 1, 2): every parameter trained\n- **bitfit** (seed 1): `[{"name":"bitfit","config":{}}]`\n- **lora**');
    expect(markdown).toContain('## How each number was measured');
    // Runs without a family (older results) form no per-family view.
    expect(markdown).not.toContain('## By family');
  });

  it('adds a per-family view and the failed runs with their errors', async () => {
    const results = reportFixture();
    for (const run of results.runs) run.family = run.method === 'full' ? 'full' : run.method === 'lora' ? '@peftjs/lora' : '@peftjs/selective';
    results.failedRuns = [{ method: 'mam', seed: 1, code: 'unknown-method', message: 'Hybrid "mam" needs method "prefix-tuning" | install @peftjs/prompts\nmore' }];
    await writeReport(dir, results, { scale: 1 });
    const markdown = await readFile(join(dir, 'report.md'), 'utf8');
    const byFamily = markdown.slice(markdown.indexOf('## By family'), markdown.indexOf('## Failed runs'));
    expect(byFamily).toContain(`### @peftjs/lora\n\n${formatComparisonMarkdown({ ...results, runs: results.runs.filter((run) => run.method !== 'bitfit') })}`);
    expect(byFamily).toContain(`### @peftjs/selective\n\n${formatComparisonMarkdown({ ...results, runs: results.runs.filter((run) => run.method !== 'lora') })}`);
    expect(markdown).toContain('| mam | 1 | `unknown-method` Hybrid "mam" needs method "prefix-tuning" \\| install @peftjs/prompts |');
    expect((await readResultsJson(dir)).failedRuns).toEqual(results.failedRuns);
  });

  it('writes only the charts the results can draw, and uses the given title', async () => {
    const results = reportFixture();
    delete results.memorySweep;
    results.runs = results.runs.filter((run) => run.method !== 'full');
    const files = await writeReport(dir, results, { title: 'Small run', scale: 1 });
    expect(files.map((file) => file.slice(dir.length + 1))).toEqual([
      'results.json',
      join('charts', 'score-vs-trainable.svg'),
      join('charts', 'score-vs-trainable.png'),
      'report.md',
    ]);
    const markdown = await readFile(join(dir, 'report.md'), 'utf8');
    expect(markdown.startsWith('# Small run\n')).toBe(true);
    expect(markdown).toContain('no "full" run: ratios n/a');
    expect(markdown).not.toContain('Baselines on the test split');
  });

  it('rejects invalid results before writing anything', async () => {
    const results = reportFixture();
    results.runs[0]!.trainTokensPerSecond = 0;
    await expect(writeReport(join(dir, 'out'), results)).rejects.toMatchObject({ code: 'invalid-config', field: 'runs.0.trainTokensPerSecond' });
    expect(await readdir(dir)).toEqual([]);
  });
});
