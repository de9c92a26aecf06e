/**
 * Times one full fine-tuning step (forward, backward, AdamW update) of the tiny BERT-style encoder
 * of TFJS-NOTES: 2 layers, hidden 128, 4 heads, FFN 512, vocabulary 1000, batch 16 × 64 tokens,
 * sequence classification. Prints ms/step, tokens/s and the real peak memory of a step.
 *
 *   pnpm --filter @peftjs/core bench:step                      best backend, peftjs kernels
 *   pnpm --filter @peftjs/core bench:step -- --json            one JSON object on stdout
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

const MODEL = { vocabSize: 1000, hiddenSize: 128, numLayers: 2, numHeads: 4, intermediateSize: 512, maxPositions: 64 };
const BATCH = 16;
const SEQ = 64;
const MODEL_NAME = `bert (${MODEL.numLayers} layers, d=${MODEL.hiddenSize}, ${MODEL.numHeads} heads, ff=${MODEL.intermediateSize}, vocab ${MODEL.vocabSize}), full fine-tuning, AdamW`;

interface StepResult {
  backend: string;
  model: string;
  batch: number;
  seq: number;
  msPerStep: number;
  tokensPerSecond: number;
  peakBytes: number;
  kernels: 'fast' | 'stock';
  kernelsPatched: string[];
  steps: number;
}

function parseOptions(): { json: boolean; backend: BackendPreference | undefined; stock: boolean; steps: number; warmup: number } {
  const { values } = parseArgs({
    // pnpm passes a literal `--` through before the script's own arguments.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      json: { type: 'boolean', default: false },
      backend: { type: 'string' },
      stock: { type: 'boolean', default: false },
      steps: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
    },
  });
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
  };
}

async function run(options: ReturnType<typeof parseOptions>): Promise<StepResult> {
  const info = await initBackend({ ...(options.backend ? { prefer: options.backend } : {}), kernels: options.stock ? 'stock' : 'fast' });
  setGlobalSeed(0);
  const model = new BertModel({ ...MODEL, task: 'sequence-classification', numLabels: 2 });
  model.train();
  const parameters = model.parameters().filter((parameter) => parameter.trainable);
  const optimizer = new AdamW(parameters, { learningRate: 1e-4 });
  const random = new SeedStream(1);
  const inputIds = tf.tensor2d(Array.from({ length: BATCH * SEQ }, () => random.nextInt(MODEL.vocabSize)), [BATCH, SEQ], 'int32');
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
  const started = performance.now();
  for (let i = 0; i < options.steps; i++) step();
  const msPerStep = (performance.now() - started) / options.steps;
  tf.dispose([inputIds, attentionMask, labels]);
  model.dispose();
  return {
    backend: info.backend,
    model: MODEL_NAME,
    batch: BATCH,
    seq: SEQ,
    msPerStep: Math.round(msPerStep * 10) / 10,
    tokensPerSecond: Math.round((BATCH * SEQ * 1000) / msPerStep),
    peakBytes,
    kernels: options.stock ? 'stock' : 'fast',
    kernelsPatched: info.kernelsPatched,
    steps: options.steps,
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
    console.log(`ms/step        ${result.msPerStep.toFixed(1)} (mean of ${result.steps})`);
    console.log(`tokens/s       ${result.tokensPerSecond}`);
    console.log(`peak memory    ${(result.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const backend = currentBackend()?.backend ?? options.backend ?? 'auto';
    if (options.json) console.log(JSON.stringify({ backend, kernels: options.stock ? 'stock' : 'fast', error: message }));
    else console.error(`bench:step failed on ${backend}: ${message}`);
    process.exitCode = 1;
  }
}

await main();
