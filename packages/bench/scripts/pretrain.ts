/**
 * Pretrains the bench's embedded backbone (masked-LM on the npm-shipped corpora, downstream
 * validation/test documents held out) and writes tokenizer.json, config.json, model.safetensors,
 * model-card.{md,json} and loss-curve.svg. A killed run resumes from its last checkpoint.
 *
 *   pnpm --filter @peftjs/bench pretrain -- --out backbone            the full run (~2 h on 2 cores, wasm)
 *   pnpm --filter @peftjs/bench pretrain -- --out /tmp/quick --quick  a 2-minute sanity run
 *   pnpm --filter @peftjs/bench pretrain -- --out /tmp/t --steps 10 --hidden 192 --eval-every 1000 --no-resume --max-documents 80
 *                                                                     ms/step of another size (printed as msPerStep / cpuMsPerStep)
 */
import { parseArgs } from 'node:util';
import type { BackendPreference } from '@peftjs/core';
import { pretrainBackbone, type PretrainOptions } from '../src/pretrain/pretrain';

// `pnpm <script> -- --flag` hands the `--` through; drop it.
const args = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    out: { type: 'string', default: 'backbone' },
    quick: { type: 'boolean', default: false },
    vocab: { type: 'string' },
    hidden: { type: 'string' },
    layers: { type: 'string' },
    heads: { type: 'string' },
    intermediate: { type: 'string' },
    seq: { type: 'string' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    'max-minutes': { type: 'string' },
    'eval-every': { type: 'string' },
    'max-documents': { type: 'string' },
    'keep-checkpoints': { type: 'boolean', default: false },
    'no-resume': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const number = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));

/** --quick: a small model on a slice of the corpus, stopped after 2 minutes of training. */
const QUICK: Partial<PretrainOptions> = { vocabSize: 2000, hiddenSize: 64, numLayers: 2, numHeads: 2, seq: 64, batchSize: 16, steps: 1000, learningRate: 2e-3, warmup: 100, evalEvery: 200, evalSequences: 128, maxMinutes: 2 };

const options: PretrainOptions = {
  ...(values.quick ? QUICK : {}),
  outDir: values.out!,
  ...defined({
    vocabSize: number(values.vocab),
    hiddenSize: number(values.hidden),
    numLayers: number(values.layers),
    numHeads: number(values.heads),
    intermediateSize: number(values.intermediate),
    seq: number(values.seq),
    batchSize: number(values.batch),
    steps: number(values.steps),
    learningRate: number(values.lr),
    warmup: number(values.warmup),
    seed: number(values.seed),
    maxMinutes: number(values['max-minutes']),
    evalEvery: number(values['eval-every']),
    backend: values.backend as BackendPreference | undefined,
  }),
  keepCheckpoints: values['keep-checkpoints'],
  resume: !values['no-resume'],
  command: `pnpm --filter @peftjs/bench pretrain -- ${withoutOutDirectory(args).join(' ')}`.trim(),
};
const maxDocuments = number(values['max-documents']) ?? (values.quick ? 40 : undefined);
if (maxDocuments !== undefined) options.corpus = { maxDocumentsPerSource: maxDocuments };

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

let lastLog = 0;
const { card } = await pretrainBackbone({
  ...options,
  onProgress: (progress) => {
    if (values.json) return;
    if (progress.phase === 'train') {
      if (Date.now() - lastLog < 10_000 && progress.step !== progress.totalSteps) return;
      lastLog = Date.now();
      const remaining = ((progress.totalSteps - progress.step) * progress.msPerStep) / 60_000;
      console.error(`step ${progress.step}/${progress.totalSteps} loss ${progress.loss.toFixed(3)} lr ${progress.learningRate.toExponential(2)} ${Math.round(progress.msPerStep)} ms/step ~${remaining.toFixed(1)} min left`);
    } else if (progress.phase === 'eval') {
      const e = progress.evaluation;
      console.error(`eval step ${progress.step}: MLM accuracy ${(100 * e.accuracy).toFixed(2)}% (unigram ${(100 * e.unigramAccuracy).toFixed(2)}%), loss ${e.loss.toFixed(3)}`);
    } else {
      console.error(progress.message);
    }
  },
});
const summary = {
  outDir: options.outDir,
  backend: card.backend.name,
  parameters: card.parameterCount,
  steps: card.training.steps,
  msPerStep: card.wallTime.msPerStep,
  cpuMsPerStep: card.wallTime.cpuMsPerStep,
  loadAverage: card.wallTime.loadAverage,
  projectedTrainMinutesOnIdleCore: Math.round((card.wallTime.cpuMsPerStep * card.training.plannedSteps) / 60_000),
  mlmAccuracy: card.mlm.accuracy,
  unigramAccuracy: card.mlm.unigramAccuracy,
  wallSeconds: card.wallTime.totalSeconds,
  files: Object.fromEntries(card.files.map((file) => [file.name, file.bytes])),
};
console.log(JSON.stringify(summary, null, values.json ? 0 : 2));

/** The command line for the card, with the output folder written as a placeholder (no machine's path in a committed card). */
function withoutOutDirectory(argv: readonly string[]): string[] {
  return argv.map((arg, index) => (argv[index - 1] === '--out' ? '<out dir>' : arg.startsWith('--out=') ? '--out=<out dir>' : arg));
}
