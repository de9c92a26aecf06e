import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '@peftjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchResults } from '../report/results';
import { testRegistry } from '../runner/test-support';
import type { CliIo } from './cli-io';
import { runCli, withoutForwardingSeparator } from './program';

let dir: string;
let tsv: string;
const previousCacheDir = process.env.PEFTJS_CACHE_DIR;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  dir = await mkdtemp(join(tmpdir(), 'peftjs-cli-'));
  process.env.PEFTJS_CACHE_DIR = join(dir, 'cache');
  tsv = join(dir, 'toy.tsv');
  const rows = Array.from({ length: 48 }, (_, i) => `the ship was ${i % 2 ? 'storm wild' : 'calm still'} ${i}\t${i % 2}`);
  await writeFile(tsv, ['sentence\tlabel', ...rows].join('\n'));
});

afterAll(async () => {
  if (previousCacheDir === undefined) delete process.env.PEFTJS_CACHE_DIR;
  else process.env.PEFTJS_CACHE_DIR = previousCacheDir;
  await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), stderrIsTTY: false };
  const code = await runCli(argv, { io, registry: testRegistry() });
  return { code, stdout, stderr };
}

describe('peftjs methods', () => {
  it('lists full fine-tuning and the registered methods with package and kind', async () => {
    const { code, stdout } = await cli('methods');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines.find((line) => line.startsWith('full '))).toMatch(/@peftjs\/core\s+full/);
    expect(lines.find((line) => line.startsWith('test-bias '))).toMatch(/@peftjs\/bench-test\s+selective\s+Trains the biases/);
    expect(stdout).toMatch(/@peftjs\/lora: lora, dora/);
    const json = JSON.parse((await cli('methods', '--json')).stdout) as { methods: Array<{ name: string; kind: string }> };
    expect(json.methods.map((method) => method.name)).toEqual(['full', 'test-bias']);
  });
});

describe('peftjs compare: bad input names the option, the value and what is allowed', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown task', ['--task', 'glue-cola'], /Invalid --task: got "glue-cola"; allowed: sotu-era, wordnet-category, sentence-order, brown-pos/],
    ['unknown method', ['--methods', 'full,lora'], /Invalid --methods: unknown method "lora"\. "lora" is provided by @peftjs\/lora.*Registered: full, test-bias/],
    ['method listed twice', ['--methods', 'test-bias,test-bias'], /Invalid --methods: "test-bias" is listed twice/],
    ['steps not a number', ['--steps', 'ten'], /Invalid --steps: got "ten"; allowed: an integer >= 1/],
    ['zero seeds', ['--seeds', '0'], /Invalid --seeds: got "0"; allowed: an integer >= 1/],
    ['bad learning rate', ['--learning-rate', '-1'], /Invalid --learning-rate: got "-1"; allowed: a number > 0/],
    ['unknown backend', ['--backend', 'gpu'], /Invalid --backend: got "gpu"; allowed: auto, tensorflow, tfjs-node-gpu, tfjs-node, wasm, cpu/],
    ['bad batch sizes', ['--memory-batch-sizes', '8,x'], /Invalid --memory-batch-sizes: got "8,x"; allowed: comma-separated integers >= 1/],
    ['missing model directory', ['--model', '/nonexistent/bert', '--backend', 'cpu'], /Invalid --model: "\/nonexistent\/bert" does not exist/],
    ['missing data file', ['--data', '/nonexistent/data.tsv', '--backend', 'cpu'], /--data: Cannot read the data file "\/nonexistent\/data\.tsv"/],
    ['both task and data', ['--task', 'sotu-era', '--data', 'x.tsv'], /Invalid --task: give either --task or --data/],
  ];
  for (const [what, argv, message] of cases) {
    it(what, async () => {
      const { code, stderr, stdout } = await cli('compare', ...argv);
      expect(code).toBe(1);
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
    });
  }

  it('a model directory without its files, a wrong column, labels that do not match', async () => {
    expect((await cli('compare', '--model', dir, '--backend', 'cpu')).stderr).toMatch(/Invalid --model: ".*" has no config\.json/);
    expect((await cli('compare', '--data', tsv, '--text-column', 'text', '--backend', 'cpu')).stderr).toMatch(/Invalid --text-column: got "text"; allowed: "sentence", "label"/);
    expect((await cli('compare', '--data', tsv, '--label-column', 'gold', '--backend', 'cpu')).stderr).toMatch(/Invalid --label-column: got "gold"/);
    expect((await cli('compare', '--data', tsv, '--labels', 'neg,pos', '--backend', 'cpu')).stderr).toMatch(/Invalid --labels \(row 1, column "label"\): got "0"; allowed: neg, pos/);
  });

  it('unknown options are usage errors from commander', async () => {
    const { code, stderr } = await cli('compare', '--epochs', '3');
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown option '--epochs'/);
  });
});

describe('peftjs compare', () => {
  it('compares full and a registered method on a TSV task and prints the table then the report folder', async () => {
    const out = join(dir, 'report');
    const { code, stdout, stderr } = await cli('compare', '--smoke', '--data', tsv, '--methods', 'test-bias', '--seeds', '2', '--steps', '3', '--batch-size', '8', '--backend', 'cpu', '--memory-batch-sizes', '2,4', '--out', out);
    expect(stderr).not.toMatch(/error/);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(out);
    expect(lines.some((line) => /^full\s+2\s/.test(line))).toBe(true);
    expect(lines.some((line) => /^test-bias\s+2\s/.test(line))).toBe(true);
    expect(stderr).toMatch(/test-bias seed 2: accuracy/);
    const results = parseBenchResults(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')));
    expect(results.task.name).toBe('toy');
    expect(results.runs).toHaveLength(4);
    expect(results.backend.name).toBe('cpu');
    expect(results.memorySweep?.length).toBe(4);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toMatch(/test-bias/);
  });

  it('--json prints one JSON object and no progress', async () => {
    const out = join(dir, 'report-json');
    const { code, stdout, stderr } = await cli('compare', '--smoke', '--data', tsv, '--methods', 'full', '--steps', '2', '--backend', 'cpu', '--memory-batch-sizes', '2', '--out', out, '--json');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const parsed = JSON.parse(stdout) as { reportDir: string; results: unknown };
    expect(parsed.reportDir).toBe(out);
    expect(parseBenchResults(parsed.results).runs.map((run) => run.method)).toEqual(['full']);
  });
});

describe('withoutForwardingSeparator', () => {
  it('drops the `--` that `pnpm bench -- --smoke` forwards after the command name', () => {
    expect(withoutForwardingSeparator(['compare', '--', '--smoke'])).toEqual(['compare', '--smoke']);
    expect(withoutForwardingSeparator(['--', '--smoke'])).toEqual(['--smoke']);
  });

  it('keeps a `--` that follows options, where it really ends them', () => {
    expect(withoutForwardingSeparator(['compare', '--seeds', '2', '--', 'x'])).toEqual(['compare', '--seeds', '2', '--', 'x']);
  });
});
