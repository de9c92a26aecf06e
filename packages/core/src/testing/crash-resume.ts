import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { silenceCpuBackendBanner } from '../backend/quiet-cpu-backend';
import { loadSafetensors } from '../io/safetensors-file';
import { listCheckpoints } from '../train/training-checkpoint';
import type { CrashResumeChildSpec } from './crash-resume-child';

/** A real crash of a training process: what to train, where to checkpoint and where to kill it. */
export interface CrashResumeOptions {
  /**
   * Methods to apply, each as a module (a package name the child can resolve, or an absolute file path), the
   * name of its configured-method factory and the config. None: full fine-tuning.
   */
  methods?: CrashResumeChildSpec['methods'];
  /** Optimizer steps of the whole run. Default 11 (two epochs and a bit). */
  totalSteps?: number;
  /** Default 3. */
  checkpointEvery?: number;
  /** The step after which the process is killed with SIGKILL; must lie strictly between two checkpoints. Default 8. */
  killAtStep?: number;
  /** Default 1. */
  gradientAccumulationSteps?: number;
  /** Per child process. Default 300 s. */
  timeoutMs?: number;
}

/** One finished training process: its final parameters (raw float32 values by name) and losses. */
export interface CrashResumeRun {
  parameters: Map<string, Float32Array>;
  losses: number[];
  resumedFrom: string | null;
  step: number;
}

export interface CrashResumeOutcome {
  /** The same training without a crash. */
  uninterrupted: CrashResumeRun;
  /** Trained until `killAtStep`, killed, then resumed by a new process from the newest checkpoint. */
  resumed: CrashResumeRun;
  /** How the killed process ended (its exit code is null when a signal ended it). */
  killed: { code: number | null; signal: NodeJS.Signals | null; lastStepSeen: number };
  /** The checkpoint steps on disk when the process was killed. */
  checkpointsAtKill: number[];
  /** The parameters of the checkpoint the resumed run started from. */
  checkpointParameters: Map<string, Float32Array>;
}

/**
 * Trains a tiny BERT classifier in child processes on the cpu backend: once without interruption,
 * and once killed with SIGKILL after `killAtStep` (between two checkpoints, so the steps since the
 * last checkpoint are lost) and resumed by a fresh process. A correct resume gives the same final
 * weights and loss history bit for bit. Runs from source (the `@peftjs/source` condition, with tsx)
 * or from the built package.
 *
 * @example
 * const outcome = await runCrashResume({ methods: [{ module: '@peftjs/lora', export: 'lora', config: { r: 4 } }] });
 * expect(sameBits(outcome.resumed.parameters, outcome.uninterrupted.parameters)).toEqual([]);
 */
export async function runCrashResume(options: CrashResumeOptions = {}): Promise<CrashResumeOutcome> {
  const totalSteps = options.totalSteps ?? 11;
  const checkpointEvery = options.checkpointEvery ?? 3;
  const killAtStep = options.killAtStep ?? 8;
  if (killAtStep % checkpointEvery === 0 || killAtStep >= totalSteps || killAtStep < checkpointEvery) {
    throw new RangeError(`killAtStep ${killAtStep} must lie strictly between two checkpoints (every ${checkpointEvery}) before step ${totalSteps}`);
  }
  silenceCpuBackendBanner();
  const directory = await mkdtemp(join(tmpdir(), 'peftjs-crash-resume-'));
  try {
    const base = {
      ...(options.methods ? { methods: options.methods } : {}),
      totalSteps,
      checkpointEvery,
      gradientAccumulationSteps: options.gradientAccumulationSteps ?? 1,
    };
    const timeoutMs = options.timeoutMs ?? 300_000;
    const uninterruptedPath = join(directory, 'uninterrupted.safetensors');
    const crashedDir = join(directory, 'crashed');
    const resumedPath = join(directory, 'resumed.safetensors');

    const uninterruptedExit = await runChild({ ...base, checkpointDir: join(directory, 'uninterrupted'), resume: false, outputPath: uninterruptedPath }, timeoutMs);
    requireCleanExit('the uninterrupted run', uninterruptedExit);

    const killed = await runChild({ ...base, checkpointDir: crashedDir, resume: false, pauseAtStep: killAtStep, outputPath: join(directory, 'never.safetensors') }, timeoutMs, killAtStep);
    const checkpointsAtKill = (await listCheckpoints(crashedDir)).map((entry) => entry.step);
    const resumeStep = checkpointsAtKill.at(-1);

    const resumedExit = await runChild({ ...base, checkpointDir: crashedDir, resume: true, outputPath: resumedPath }, timeoutMs);
    requireCleanExit('the resumed run', resumedExit);

    return {
      uninterrupted: await readRun(uninterruptedPath),
      resumed: await readRun(resumedPath),
      killed: { code: killed.code, signal: killed.signal, lastStepSeen: killed.lastStep },
      checkpointsAtKill,
      checkpointParameters: resumeStep === undefined ? new Map() : await readCheckpointParameters(join(crashedDir, `checkpoint-${resumeStep}.safetensors`)),
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Names of the entries whose bits differ (or that one side lacks); empty when the two are bit-identical. */
export function differingBits(actual: ReadonlyMap<string, Float32Array>, expected: ReadonlyMap<string, Float32Array>): string[] {
  const names = new Set([...actual.keys(), ...expected.keys()]);
  return [...names].filter((name) => {
    const a = actual.get(name);
    const b = expected.get(name);
    if (!a || !b || a.length !== b.length) return true;
    return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) !== 0;
  });
}

interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  lastStep: number;
  stderr: string;
}

function requireCleanExit(what: string, exit: ChildExit): void {
  if (exit.code !== 0) throw new Error(`${what} exited with code ${exit.code} (signal ${exit.signal}):\n${exit.stderr}`);
}

/** The command that runs the child script: tsx on the source, plain node on the build. */
function childCommand(): string[] {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // tsx's loader in this very process, not its CLI: the CLI runs the script in a grandchild that a SIGKILL would not reach.
    const loader = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return ['--conditions=@peftjs/source', '--import', loader, fileURLToPath(new URL('./crash-resume-child.ts', here))];
  }
  // In the build this code may sit in a shared chunk beside testing/ rather than in it.
  const extension = here.endsWith('.cjs') ? '.cjs' : '.js';
  const candidates = [`./crash-resume-child${extension}`, `./testing/crash-resume-child${extension}`].map((relative) => fileURLToPath(new URL(relative, here)));
  const script = candidates.find((candidate) => existsSync(candidate));
  if (script === undefined) throw new Error(`the crash-resume child script is missing (looked for ${candidates.join(', ')})`);
  return [script];
}

function runChild(spec: CrashResumeChildSpec, timeoutMs: number, killAtStep?: number): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childCommand(), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lastStep = 0;
    let pending = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const match = /^step (\d+)$/.exec(line);
        if (!match) continue;
        lastStep = Number(match[1]);
        if (lastStep === killAtStep) child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lastStep, stderr });
    });
  });
}

async function readRun(path: string): Promise<CrashResumeRun> {
  const { losses, resumedFrom, step } = JSON.parse(await readFile(`${path}.json`, 'utf8')) as { losses: number[]; resumedFrom: string | null; step: number };
  return { parameters: await readFloats(path, ''), losses, resumedFrom, step };
}

async function readCheckpointParameters(path: string): Promise<Map<string, Float32Array>> {
  return readFloats(path, 'parameter/');
}

async function readFloats(path: string, prefix: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await loadSafetensors(path);
  const values = new Map<string, Float32Array>();
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name.startsWith(prefix)) values.set(name.slice(prefix.length), Float32Array.from(tensor.dataSync() as Float32Array));
    tensor.dispose();
  }
  return values;
}
