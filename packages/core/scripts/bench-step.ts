/**
 * Times one training step (forward, backward, AdamW update) of a small BERT-style encoder with a
 * sequence-classification head. Prints ms/step, tokens/s and the real peak memory of a step.
 * Presets:
 * - default: the tiny encoder of TFJS-NOTES: 2 layers, hidden 128, 4 heads, FFN 512, vocabulary
 *   1000, batch 16 × 64 tokens;
 * - peer: the model and step PyTorch + HF PEFT runs in scripts/peer-step.py: 2 layers, hidden 128,
 *   4 heads, FFN 512, vocabulary 8000, 512 positions, batch 16 × 128 tokens, dropout 0.1.
 * Methods (see peer-methods.ts): full fine-tuning (default), LoRA r8 on query/value, BitFit.
 *
 *   pnpm --filter @peftjs/core bench:step                      best backend, peftjs kernels
 *   pnpm --filter @peftjs/core bench:step -- --json            one JSON object on stdout
 *   pnpm --filter @peftjs/core bench:step -- --preset peer --method lora
 *   pnpm --filter @peftjs/core bench:step -- --profile         also the time per kernel (one step)
 *   pnpm --filter @peftjs/core bench:step -- --backend cpu     force a backend (cpu|wasm|tensorflow|tfjs-node|tfjs-node-gpu)
 *   pnpm --filter @peftjs/core bench:step -- --stock           tfjs' own kernels (to compare)
 *   pnpm --filter @peftjs/core bench:step -- --steps 2 --warmup 1
 */
import { parseArgs } from 'node:util';
import { BACKEND_PREFERENCES, currentBackend, initBackend, type BackendPreference } from '../src/backend';
import { PeftError } from '../src/errors/peft-error';
import { measurePeakMemory } from '../src/meter/memory-meter';
import { BertModel } from '../src/models/bert-model';
import { tf } from '../src/nn/tf';
import { AdamW } from '../src/train/adamw';
import { SeedStream, setGlobalSeed } from '../src/util/random';
import { profileKernels, type KernelTime } from './kernel-profile';
import { applyPeerMethod, PEER_METHODS, type PeerMethod } from './peer-methods';

const PRESETS = {
  default: { model: { vocabSize: 1000, hiddenSize: 128, numLayers: 2, numHeads: 4, intermediateSize: 512, maxPositions: 64 }, batch: 16, seq: 64 },
  peer: { model: { vocabSize: 8000, hiddenSize: 128, numLayers: 2, numHeads: 4, intermediateSize: 512, maxPositions: 512 }, batch: 16, seq: 128 },
} as const;
type PresetName = keyof typeof PRESETS;
const METHOD_NAMES: Record<PeerMethod, string> = { full: 'full fine-tuning', lora: 'LoRA r8 query,value', bitfit: 'BitFit' };

interface StepResult {
  backend: string;
  preset: PresetName;
  method: PeerMethod;
  model: string;
  batch: number;
  seq: number;
  /** Mean over the timed steps. */
  msPerStep: number;
  medianMsPerStep: number;
  tokensPerSecond: number;
  peakBytes: number;
  kernels: 'fast' | 'stock';
  kernelsPatched: string[];
  /** Threads the backend computes on (wasm: its pthread pool; cpu: 1). */
  threads: number;
  steps: number;
  profile?: KernelTime[];
}

interface Options {
  json: boolean;
  backend: BackendPreference | undefined;
  stock: boolean;
  steps: number;
  warmup: number;
  preset: PresetName;
  method: PeerMethod;
  profile: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    // pnpm passes a literal `--` through before the script's own arguments.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      json: { type: 'boolean', default: false },
      backend: { type: 'string' },
      stock: { type: 'boolean', default: false },
      steps: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      preset: { type: 'string', default: 'default' },
      method: { type: 'string', default: 'full' },
      profile: { type: 'boolean', default: false },
    },
  });
  const choice = <T extends string>(name: string, text: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(text)) {
      throw new PeftError('invalid-argument', `--${name} ${text}: allowed ${allowed.join(', ')}.`, { field: name, value: text, allowed });
    }
    return text as T;
  };
  const backend = values.backend;
  if (backend !== undefined && !(BACKEND_PREFERENCES as readonly string[]).includes(backend)) {
    throw new PeftError('invalid-argument', `--backend ${backend}: allowed ${BACKEND_PREFERENCES.join(', ')}.`, {
      field: 'backend',
      value: backend,
      allowed: BACKEND_PREFERENCES,
    });
  }
  const count = (name: string, text: string, minimum: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) {
      throw new PeftError('invalid-argument', `--${name} ${text}: allowed an integer >= ${minimum}.`, { field: name, value: text, allowed: `integer >= ${minimum}` });
    }
    return value;
  };
  return {
    json: values.json,
    backend: backend as BackendPreference | undefined,
    stock: values.stock,
    steps: count('steps', values.steps, 1),
    warmup: count('warmup', values.warmup, 0),
    preset: choice('preset', values.preset, Object.keys(PRESETS) as PresetName[]),
    method: choice('method', values.method, PEER_METHODS),
    profile: values.profile,
  };
}

/** The thread count of the active backend's compute (wasm's pthread pool; 1 for the JS cpu backend). */
function backendThreads(backend: string): number {
  if (backend !== 'wasm') return 1;
  const wasm = tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } };
  return wasm.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function run(options: Options): Promise<StepResult> {
  const info = await initBackend({ ...(options.backend ? { prefer: options.backend } : {}), kernels: options.stock ? 'stock' : 'fast' });
  const { model: config, batch: BATCH, seq: SEQ } = PRESETS[options.preset];
  setGlobalSeed(0);
  const model = new BertModel({ ...config, task: 'sequence-classification', numLabels: 2 });
  model.train();
  const parameters = applyPeerMethod(model, options.method);
  const optimizer = new AdamW(parameters, { learningRate: 1e-4 });
  const random = new SeedStream(1);
  const inputIds = tf.tensor2d(Array.from({ length: BATCH * SEQ }, () => random.nextInt(config.vocabSize)), [BATCH, SEQ], 'int32');
  const attentionMask = tf.ones([BATCH, SEQ], 'int32');
  const labels = tf.tensor1d(Array.from({ length: BATCH }, () => random.nextInt(2)), 'int32');
  const variables = parameters.map((parameter) => parameter.variable);

  const step = (): void => {
    const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward({ inputIds, attentionMask }), labels, attentionMask), variables);
    optimizer.step(new Map(parameters.map((parameter) => [parameter, grads[parameter.variable.name]!])));
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };

  for (let i = 0; i < options.warmup; i++) step();
  const { peakBytes } = measurePeakMemory(step);
  const times: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const started = performance.now();
    step();
    times.push(performance.now() - started);
  }
  const msPerStep = times.reduce((sum, time) => sum + time, 0) / options.steps;
  const profile = options.profile ? await profileKernels(step) : undefined;
  tf.dispose([inputIds, attentionMask, labels]);
  model.dispose();
  const c = config;
  return {
    backend: info.backend,
    preset: options.preset,
    method: options.method,
    model: `bert (${c.numLayers} layers, d=${c.hiddenSize}, ${c.numHeads} heads, ff=${c.intermediateSize}, vocab ${c.vocabSize}), ${METHOD_NAMES[options.method]}, AdamW`,
    batch: BATCH,
    seq: SEQ,
    msPerStep: Math.round(msPerStep * 10) / 10,
    medianMsPerStep: Math.round(median(times) * 10) / 10,
    tokensPerSecond: Math.round((BATCH * SEQ * 1000) / median(times)),
    peakBytes,
    kernels: options.stock ? 'stock' : 'fast',
    kernelsPatched: info.kernelsPatched,
    threads: backendThreads(info.backend),
    steps: options.steps,
    ...(profile ? { profile } : {}),
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  try {
    const result = await run(options);
    if (options.json) {
      console.log(JSON.stringify(result));
      return;
    }
    console.log(`backend        ${result.backend} (${result.kernels} kernels${result.kernelsPatched.length ? `: ${result.kernelsPatched.join(', ')}` : ''})`);
    console.log(`model          ${result.model}`);
    console.log(`batch × seq    ${result.batch} × ${result.seq}`);
    console.log(`threads        ${result.threads}`);
    console.log(`ms/step        ${result.medianMsPerStep.toFixed(1)} median, ${result.msPerStep.toFixed(1)} mean of ${result.steps}`);
    console.log(`tokens/s       ${result.tokensPerSecond} (median step)`);
    console.log(`peak memory    ${(result.peakBytes / 2 ** 20).toFixed(1)} MiB`);
    if (result.profile) {
      console.log('kernel         ms/step  calls');
      for (const entry of result.profile) console.log(`${entry.kernel.padEnd(22)} ${entry.ms.toFixed(1).padStart(7)}  ${entry.calls}`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const backend = currentBackend()?.backend ?? options.backend ?? 'auto';
    if (options.json) console.log(JSON.stringify({ backend, kernels: options.stock ? 'stock' : 'fast', error: message }));
    else console.error(`bench:step failed on ${backend}: ${message}`);
    process.exitCode = 1;
  }
}

await main();
