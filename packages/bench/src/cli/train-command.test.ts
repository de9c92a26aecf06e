import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createBert, initBackend, loadSafetensors, saveHfBert, setGlobalSeed } from '@peftjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyTask } from '../runner/test-support';
import { trainWordPiece } from '../tokenizer/wordpiece-trainer';
import type { CliIo } from './cli-io';
import { parseConfigOverrides } from './config-overrides';
import { runCli } from './program';

let root = '';
let modelDir = '';
let dataFile = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'peftjs-train-'));
  modelDir = join(root, 'base');
  dataFile = join(root, 'data.tsv');
  await mkdir(modelDir);
  const task = toyTask();
  const rows = [...task.train, ...task.validation, ...task.test];
  const { tokenizerJson } = trainWordPiece(rows.map((row) => row.text), { vocabSize: 120 });
  await writeFile(join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await initBackend({ prefer: 'wasm' });
  setGlobalSeed(3);
  const vocabSize = Object.keys(tokenizerJson.model.vocab).length;
  const model = createBert({ hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, vocabSize, maxPositions: 32, task: 'sequence-classification', numLabels: 2 });
  await saveHfBert(model, modelDir);
  model.dispose();
  await writeFile(dataFile, `sentence\tlabel\n${rows.map((row) => `${row.text}\t${task.labels[row.label]}`).join('\n')}\n`);
});
afterAll(async () => rm(root, { recursive: true, force: true }));

const quiet = (): CliIo & { err: () => string } => {
  let stderr = '';
  return { stdout: () => {}, stderr: (text) => void (stderr += text), stderrIsTTY: false, err: () => stderr };
};

const trainArgs = (out: string) => ['train', '--method', 'lora', '--model', modelDir, '--data', dataFile, '--out', out, '--steps', '120', '--batch-size', '8', '--max-length', '24', '--checkpoint-every', '5', '--learning-rate', '0.03', '--config', 'r=4', '--backend', 'wasm'];

/** Runs the CLI from source in a child process, and SIGKILLs it as soon as it reports its first checkpoint. */
function killAfterFirstCheckpoint(args: readonly string[]): Promise<{ killed: boolean; stderr: string }> {
  const here = import.meta.url;
  const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href;
  const bin = fileURLToPath(new URL('./bin.ts', here));
  const child = spawn(process.execPath, ['--conditions=@peftjs/source', '--import', tsx, bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/checkpoint step \d+/.test(stderr) && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ killed: signal === 'SIGKILL', stderr }));
  });
}

describe('peftjs train', () => {
  it('killed with SIGKILL mid-run and resumed with --resume, ends with the adapter of an uninterrupted run', async () => {
    const straight = join(root, 'straight');
    const io = quiet();
    expect(await runCli(trainArgs(straight), { io })).toBe(0);
    expect(io.err()).toMatch(/eval step 30: .*accuracy/);

    const interrupted = join(root, 'interrupted');
    const killed = await killAfterFirstCheckpoint(trainArgs(interrupted));
    expect(killed.killed).toBe(true);
    await expect(access(join(interrupted, 'train-summary.json'))).rejects.toThrow();
    const resumedIo = quiet();
    expect(await runCli([...trainArgs(interrupted), '--resume'], { io: resumedIo })).toBe(0);
    const resumedAt = Number(/resumed from \S+ at step (\d+)/.exec(resumedIo.err())?.[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(5);
    expect(resumedAt).toBeLessThan(120);

    // LoRA has HF PEFT's format, so the adapter is saved in it.
    const config = JSON.parse(await readFile(join(straight, 'adapter', 'adapter_config.json'), 'utf8')) as { peft_type: string; r: number };
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4 });
    const a = (await loadSafetensors(join(straight, 'adapter', 'adapter_model.safetensors'))).tensors;
    const b = (await loadSafetensors(join(interrupted, 'adapter', 'adapter_model.safetensors'))).tensors;
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    // Training moved B away from its zero init by far more than the comparison's tolerance.
    const loraB = Object.keys(a).filter((key) => key.includes('lora_B'));
    expect(loraB.length).toBeGreaterThan(0);
    expect(Math.max(...loraB.map((key) => Math.max(...[...a[key]!.dataSync()].map(Math.abs))))).toBeGreaterThan(1e-3);
    for (const key of Object.keys(a)) {
      const left = a[key]!.dataSync();
      const right = b[key]!.dataSync();
      left.forEach((value, i) => expect(Math.abs(value - right[i]!)).toBeLessThan(1e-6));
    }

    const evalIo = quiet();
    let stdout = '';
    expect(await runCli(['eval', '--model', modelDir, '--adapter', join(interrupted, 'adapter'), '--data', dataFile, '--json', '--backend', 'wasm'], { io: { ...evalIo, stdout: (text) => void (stdout += text) } })).toBe(0);
    const evaluated = JSON.parse(stdout) as { examples: number; metrics: { accuracy: number } };
    // 72 rows, of which 48 distinct texts (the loader drops duplicates, train first).
    expect(evaluated.examples).toBe(48);
    // The cue words decide the label: the trained adapter gets it right far above chance.
    expect(evaluated.metrics.accuracy).toBeGreaterThan(0.8);

    const merged = join(root, 'merged');
    expect(await runCli(['merge', '--model', modelDir, '--adapter', join(interrupted, 'adapter'), '--out', merged, '--backend', 'wasm'], { io: quiet() })).toBe(0);
    await access(join(merged, 'model.safetensors'));
    await access(join(merged, 'tokenizer.json'));
  }, 240_000);

  it('rejects full fine-tuning and names the part labels for a hybrid override', async () => {
    const io = quiet();
    expect(await runCli(['train', '--method', 'full', '--model', modelDir, '--data', dataFile, '--out', join(root, 'x')], { io })).toBe(1);
    expect(io.err()).toMatch(/Invalid --method: "full"/);
    const hybridIo = quiet();
    expect(await runCli(['train', '--method', 'lora+bitfit', '--model', modelDir, '--data', dataFile, '--out', join(root, 'y'), '--config', 'r=4'], { io: hybridIo })).toBe(1);
    expect(hybridIo.err()).toMatch(/keys start with a part label \(lora\.<field>, bitfit\.<field>\)/);
  });
});

describe('config overrides', () => {
  it('reads key=value pairs (JSON values, dotted keys) and JSON files, merged in order', async () => {
    const file = join(root, 'overrides.json');
    await writeFile(file, JSON.stringify({ targets: { roles: ['attention.query'] }, alpha: 2 }));
    expect(await parseConfigOverrides(['r=4', 'init=gaussian', file, 'targets.layers=[0,1]', 'alpha=16'])).toEqual({
      r: 4,
      init: 'gaussian',
      targets: { roles: ['attention.query'], layers: [0, 1] },
      alpha: 16,
    });
    await expect(parseConfigOverrides(['=3'])).rejects.toThrow(/--config/);
    await expect(parseConfigOverrides([join(root, 'missing.json')])).rejects.toThrow(/key=value, or a JSON file/);
  });
});
