import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import {
  createBert,
  disposeBatch,
  initBackend,
  invalidArgument,
  saveHfBert,
  setGlobalSeed,
  train,
  writeFileAtomic,
  type BackendPreference,
  type BertModel,
  type TrainEvent,
  type TrainingTarget,
} from '@peftjs/core';
import { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import { SPECIAL_TOKEN_IDS } from '../tokenizer/special-tokens';
import { saveTokenizerJson, trainWordPiece } from '../tokenizer/wordpiece-trainer';
import { DEFAULT_EVALUATION_FRACTION, buildPretrainingCorpus, type PretrainingCorpus, type PretrainingCorpusOptions } from './corpus';
import { MaskedPositionsModel } from './masked-positions-model';
import { maskedEvaluationBatches, mlmBatches, type MlmBatchOptions } from './mlm-batches';
import { SPECIAL_IDS, evaluateMlm, prepareMlmData, type MlmEvaluation } from './mlm-data';
import { lossCurvePoints, lossCurveSvg, renderModelCard, type BackboneModelCard } from './model-card';

/**
 * The default size of the embedded backbone, chosen so the full run fits in under 2 hours on 2 CPU
 * cores with the wasm backend: ~1.8 s per step of 32 × 128 tokens on one core (see README.md in
 * this folder for the timings of the candidate sizes).
 */
export const DEFAULT_PRETRAIN_SETTINGS = {
  vocabSize: 6000,
  hiddenSize: 128,
  numLayers: 4,
  numHeads: 4,
  seq: 128,
  batchSize: 32,
  steps: 3500,
  learningRate: 1e-3,
  warmup: 200,
  weightDecay: 0.01,
  dropout: 0.1,
  seed: 42,
  evalEvery: 500,
  evalSequences: 256,
  checkpointEvery: 250,
} as const;

/** Progress of a pretraining run, for a progress bar or a log. */
export type PretrainProgress =
  | { phase: 'corpus' | 'tokenizer' | 'tokenize' | 'model' | 'save'; message: string }
  | { phase: 'train'; step: number; totalSteps: number; loss: number; learningRate: number; msPerStep: number }
  | { phase: 'eval'; step: number; evaluation: MlmEvaluation };

export interface PretrainOptions {
  /** Where tokenizer.json, config.json, model.safetensors, model-card.{md,json} and loss-curve.svg are written. */
  outDir: string;
  /** WordPiece vocabulary size to train (the result may be smaller on a small corpus). */
  vocabSize?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  /** FFN width. Default 4 × hiddenSize. */
  intermediateSize?: number;
  /** Tokens per packed sequence ([CLS] and [SEP] included); also the model's maxPositions. */
  seq?: number;
  batchSize?: number;
  steps?: number;
  learningRate?: number;
  /** Warmup steps of the linear schedule. */
  warmup?: number;
  weightDecay?: number;
  /** Hidden and attention dropout. */
  dropout?: number;
  seed?: number;
  /** Backend to train on (default: the best available; wasm on a machine without tfjs-node). */
  backend?: BackendPreference;
  /** Stop after the step during which this many minutes of training have passed (the files are still written). */
  maxMinutes?: number;
  /** Evaluate MLM accuracy every N steps (and at step 0 and the end). */
  evalEvery?: number;
  /** Packed sequences in the MLM evaluation set. */
  evalSequences?: number;
  /** Checkpoint every N steps into `checkpointDir`, so a killed run resumes. */
  checkpointEvery?: number;
  /** Default `<outDir>/.checkpoints`; deleted after a successful run unless `keepCheckpoints`. */
  checkpointDir?: string;
  keepCheckpoints?: boolean;
  /** Resume from the newest checkpoint in `checkpointDir` if there is one. Default true. */
  resume?: boolean;
  /** Corpus options (sources, quick-run document limits, evaluation fraction). */
  corpus?: PretrainingCorpusOptions;
  /** The command line recorded in the card as the way to reproduce the run. */
  command?: string;
  /** Name in the card. */
  name?: string;
  onProgress?: (progress: PretrainProgress) => void;
  /** Return the trained model (the caller disposes it) instead of disposing it. */
  keepModel?: boolean;
}

export interface PretrainResult {
  card: BackboneModelCard;
  outDir: string;
  /** The trained model, when `keepModel` was set. */
  model?: BertModel;
}

/** The files a pretraining run writes, in the order the card lists them. */
export const BACKBONE_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'loss-curve.svg'] as const;

/** Seed of the fixed evaluation masking, derived from the run's seed. */
export function evaluationSeed(seed: number): number {
  return (seed ^ 0x5eed1) >>> 0;
}

/**
 * Pretrains the bench's embedded backbone: builds the pretraining corpus with every downstream
 * validation/test document held out, trains a WordPiece tokenizer on it, trains a BERT-style
 * encoder with masked-LM (Devlin et al., "BERT", §3.1; no next-sentence prediction, as RoBERTa)
 * using core's `train()` (AdamW, linear warmup and decay, checkpoints so a killed run resumes),
 * evaluates MLM accuracy against the unigram baseline on held-out text, and writes an HF-layout
 * checkpoint, the tokenizer and a model card.
 *
 * @example
 * await pretrainBackbone({ outDir: 'backbone', steps: 200, maxMinutes: 2 });
 */
export async function pretrainBackbone(options: PretrainOptions): Promise<PretrainResult> {
  const settings: Settings = { ...DEFAULT_PRETRAIN_SETTINGS, ...definedOnly(options) };
  validate(settings);
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const backend = await initBackend(options.backend !== undefined ? { prefer: options.backend } : {});
  await mkdir(options.outDir, { recursive: true });

  progress({ phase: 'corpus', message: 'building the pretraining corpus (downstream validation/test documents held out)' });
  const corpusOptions: PretrainingCorpusOptions = { seed: settings.seed, ...options.corpus };
  const corpus = buildPretrainingCorpus(corpusOptions);

  progress({ phase: 'tokenizer', message: `training a WordPiece tokenizer (${settings.vocabSize} tokens)` });
  const { tokenizerJson } = trainWordPiece(
    corpus.train.flatMap((document) => document.sentences),
    { vocabSize: settings.vocabSize },
  );
  const tokenizer = BenchTokenizer.fromJson(tokenizerJson);
  await saveTokenizerJson(join(options.outDir, 'tokenizer.json'), tokenizerJson);

  progress({ phase: 'tokenize', message: 'tokenizing and packing' });
  const data = prepareMlmData(corpus, tokenizer, { sequenceLength: settings.seq, evaluationSequences: settings.evalSequences });
  const batchOptions: MlmBatchOptions = {
    batchSize: settings.batchSize,
    seed: settings.seed,
    padId: SPECIAL_TOKEN_IDS.pad,
    vocabSize: tokenizer.vocabSize,
    maskId: SPECIAL_TOKEN_IDS.mask,
    specialIds: SPECIAL_IDS,
  };
  const evalBatches = maskedEvaluationBatches(data.evaluation, { ...batchOptions, seed: evaluationSeed(settings.seed) });

  progress({ phase: 'model', message: 'building the model' });
  setGlobalSeed(settings.seed);
  const model = createBert({
    task: 'masked-lm',
    vocabSize: tokenizer.vocabSize,
    hiddenSize: settings.hiddenSize,
    numLayers: settings.numLayers,
    numHeads: settings.numHeads,
    intermediateSize: settings.intermediateSize ?? 4 * settings.hiddenSize,
    maxPositions: settings.seq,
    hiddenDropout: settings.dropout,
    attentionDropout: settings.dropout,
  });
  const disposeAll = (keepModel = false) => {
    for (const batch of evalBatches) disposeBatch(batch);
    if (!keepModel) model.dispose();
  };
  const training = new MaskedPositionsModel(model);
  const target: TrainingTarget = { model: training, trainableParameters: () => model.parameters(), appliedMethods: () => [] };

  const evaluations: Array<{ step: number; accuracy: number; loss: number }> = [];
  const runEvaluation = (step: number) => {
    const evaluation = evaluateMlm(model, evalBatches, data.unigramTokenId);
    evaluations.push({ step, accuracy: round(evaluation.accuracy), loss: round(evaluation.loss) });
    progress({ phase: 'eval', step, evaluation });
    return evaluation;
  };

  const checkpointDir = options.checkpointDir ?? join(options.outDir, '.checkpoints');
  const abort = new AbortController();
  let trainStarted = performance.now();
  let firstStepDone = trainStarted;
  let timedMs = 0;
  let firstStepCpu = process.cpuUsage();
  let cpuMsPerStep = 0;
  let firstStep: number | undefined;
  let lastStep = 0;
  let resumedFrom: string | undefined;
  const onEvent = (event: TrainEvent) => {
    if (event.type === 'start') {
      // The checkpoint's file name only: the card is committed, and a machine's paths do not belong in it.
      resumedFrom = event.resumedFrom === undefined ? undefined : basename(event.resumedFrom);
      firstStep = event.step;
      if (event.step === 0) runEvaluation(0);
      trainStarted = performance.now();
    } else if (event.type === 'step') {
      lastStep = event.step;
      // The first step of a process pays for kernel setup and warm-up; the rate is timed after it.
      if (event.step === firstStep! + 1) {
        firstStepDone = performance.now();
        firstStepCpu = process.cpuUsage();
      }
      const timedSteps = event.step - firstStep! - 1;
      const msPerStep = timedSteps > 0 ? (performance.now() - firstStepDone) / timedSteps : performance.now() - trainStarted;
      if (timedSteps > 0) {
        timedMs = msPerStep;
        const cpu = process.cpuUsage(firstStepCpu);
        // tfjs on wasm and cpu runs on one thread, so CPU time per step is what it takes on an idle core.
        cpuMsPerStep = (cpu.user + cpu.system) / 1000 / timedSteps;
      }
      progress({ phase: 'train', step: event.step, totalSteps: event.totalSteps, loss: event.loss, learningRate: event.learningRate, msPerStep });
      if (event.step % settings.evalEvery === 0 && event.step !== event.totalSteps) runEvaluation(event.step);
      if (settings.maxMinutes !== undefined && performance.now() - trainStarted >= settings.maxMinutes * 60_000) abort.abort();
    }
  };
  const result = await train(target, {
      data: mlmBatches(data.train, batchOptions),
      maxSteps: settings.steps,
      learningRate: settings.learningRate,
      warmupSteps: settings.warmup,
      weightDecay: settings.weightDecay,
      seed: settings.seed,
      checkpointDir,
      checkpointEvery: settings.checkpointEvery,
      keepCheckpoints: 1,
      resume: options.resume ?? true,
      signal: abort.signal,
      onEvent,
    }).catch((error: unknown) => {
      disposeAll();
      throw error;
    });
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  const stepsThisRun = lastStep - (firstStep ?? 0);
  const final = runEvaluation(result.step);

  progress({ phase: 'save', message: `writing ${options.outDir}` });
  await saveHfBert(model, options.outDir);
  const curve = lossCurvePoints(result.losses);
  await writeFileAtomic(join(options.outDir, 'loss-curve.svg'), lossCurveSvg(curve));
  const files = await Promise.all(BACKBONE_FILES.map((name) => describeFile(options.outDir, name)));
  const card = buildCard({
    settings,
    options,
    corpus,
    corpusOptions,
    data,
    tokenizer,
    model,
    files,
    curve,
    evaluations,
    final,
    result,
    resumedFrom,
    backend,
    totalSeconds: (performance.now() - started) / 1000,
    trainSeconds,
    stepsThisRun,
    msPerStep: timedMs,
    cpuMsPerStep,
  });
  await writeFileAtomic(join(options.outDir, 'model-card.json'), `${JSON.stringify(card, null, 2)}\n`);
  await writeFileAtomic(join(options.outDir, 'model-card.md'), renderModelCard(card));
  disposeAll(options.keepModel);
  if (!result.stopped && !options.keepCheckpoints) await rm(checkpointDir, { recursive: true, force: true });
  return { card, outDir: options.outDir, ...(options.keepModel ? { model } : {}) };
}

type Settings = { [K in keyof typeof DEFAULT_PRETRAIN_SETTINGS]: number } & Pick<PretrainOptions, 'intermediateSize' | 'maxMinutes'>;

/** The options that were given (an explicit `undefined` keeps the default). */
function definedOnly(options: PretrainOptions): Partial<Settings> {
  const keys = [...Object.keys(DEFAULT_PRETRAIN_SETTINGS), 'intermediateSize', 'maxMinutes'] as const;
  return Object.fromEntries(keys.map((key) => [key, (options as unknown as Record<string, unknown>)[key]]).filter(([, value]) => value !== undefined)) as Partial<Settings>;
}

function validate(settings: Settings): void {
  for (const field of ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'seq', 'batchSize', 'steps', 'evalEvery', 'evalSequences', 'checkpointEvery'] as const) {
    const value = settings[field];
    if (!(Number.isInteger(value) && value > 0)) invalidArgument(field, value, 'an integer > 0');
  }
  if (!(Number.isInteger(settings.warmup) && settings.warmup >= 0)) invalidArgument('warmup', settings.warmup, 'an integer >= 0');
  if (!(settings.learningRate > 0)) invalidArgument('learningRate', settings.learningRate, 'a number > 0');
  if (settings.maxMinutes !== undefined && !(settings.maxMinutes > 0)) invalidArgument('maxMinutes', settings.maxMinutes, 'a number > 0');
  if (settings.seq < 3) invalidArgument('seq', settings.seq, 'an integer >= 3 ([CLS], a token, [SEP])');
}

async function describeFile(directory: string, name: string): Promise<{ name: string; bytes: number; sha256: string }> {
  const path = join(directory, name);
  const [info, bytes] = await Promise.all([stat(path), readFile(path)]);
  return { name, bytes: info.size, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

interface CardInputs {
  settings: Settings;
  options: PretrainOptions;
  corpus: PretrainingCorpus;
  corpusOptions: PretrainingCorpusOptions;
  data: ReturnType<typeof prepareMlmData>;
  tokenizer: BenchTokenizer;
  model: BertModel;
  files: Array<{ name: string; bytes: number; sha256: string }>;
  curve: Array<{ step: number; loss: number }>;
  evaluations: Array<{ step: number; accuracy: number; loss: number }>;
  final: MlmEvaluation;
  result: { step: number; totalSteps: number; stopped: boolean };
  resumedFrom: string | undefined;
  backend: { backend: string; kernelsPatched: string[] };
  totalSeconds: number;
  trainSeconds: number;
  stepsThisRun: number;
  msPerStep: number;
  cpuMsPerStep: number;
}

function buildCard(inputs: CardInputs): BackboneModelCard {
  const { settings, corpus, data, model, final, result } = inputs;
  const c = model.config;
  const { documentIds, ...heldOut } = corpus.heldOut;
  const tokensSeen = result.step * settings.batchSize * settings.seq;
  return {
    formatVersion: 1,
    name: inputs.options.name ?? `peftjs-bench-bert-h${c.hiddenSize}-l${c.numLayers}`,
    description:
      'A small BERT-style encoder pretrained with masked-LM by `@peftjs/bench` on npm-shipped corpora, with every downstream task\'s ' +
      'validation and test documents held out: the default backbone of the bench.',
    architecture: {
      type: 'bert (post-LN), masked-LM head tied to the word embeddings',
      vocabSize: c.vocabSize,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      intermediateSize: c.intermediateSize,
      maxPositions: c.maxPositions,
    },
    parameterCount: model.parameters().reduce((sum, parameter) => sum + parameter.size, 0),
    files: inputs.files,
    data: {
      sources: corpus.sources,
      heldOut: { ...heldOut, documents: documentIds.length, documentIdsSha256: createHash('sha256').update(documentIds.join('\n')).digest('hex') },
      trainSequences: data.train.length,
      trainTokens: data.trainTokens,
      evaluationDocuments: corpus.evaluation.length,
      evaluationSequences: data.evaluation.length,
      corpus: {
        sources: corpus.sources.map((source) => source.source),
        taskSplitSeed: corpus.heldOut.taskSplitSeed,
        evaluationFraction: inputs.corpusOptions.evaluationFraction ?? DEFAULT_EVALUATION_FRACTION,
        seed: inputs.corpusOptions.seed ?? 0,
        ...(inputs.corpusOptions.maxDocumentsPerSource !== undefined ? { maxDocumentsPerSource: inputs.corpusOptions.maxDocumentsPerSource } : {}),
      },
    },
    tokenizer: { type: 'WordPiece (BERT uncased)', vocabSize: inputs.tokenizer.vocabSize, requestedVocabSize: settings.vocabSize, trainedOn: 'the pretraining (train) documents only' },
    training: {
      objective: 'Masked LM (15% of tokens: 80% [MASK], 10% random, 10% kept; dynamic masking per epoch; loss on masked positions only)',
      steps: result.step,
      plannedSteps: result.totalSteps,
      stoppedEarly: result.stopped,
      ...(inputs.resumedFrom !== undefined ? { resumedFrom: inputs.resumedFrom } : {}),
      batchSize: settings.batchSize,
      sequenceLength: settings.seq,
      tokensSeen,
      epochs: round(tokensSeen / Math.max(1, data.train.length * settings.seq)),
      optimizer: 'AdamW (β1 0.9, β2 0.999, ε 1e-8; no decay on biases and LayerNorm), gradient clipping at norm 1',
      learningRate: settings.learningRate,
      warmupSteps: settings.warmup,
      weightDecay: settings.weightDecay,
      seed: settings.seed,
      dropout: settings.dropout,
    },
    lossCurve: inputs.curve,
    evaluations: inputs.evaluations,
    mlm: {
      evaluationSeed: evaluationSeed(settings.seed),
      evaluationSequencesLimit: settings.evalSequences,
      maskedTokens: final.maskedTokens,
      accuracy: round(final.accuracy),
      loss: round(final.loss),
      unigramAccuracy: round(final.unigramAccuracy),
      unigramToken: inputs.tokenizer.idToToken(data.unigramTokenId) ?? String(data.unigramTokenId),
      accuracyOverUnigram: round(final.accuracy / Math.max(final.unigramAccuracy, 1e-9)),
    },
    backend: { name: inputs.backend.backend, kernelsPatched: inputs.backend.kernelsPatched },
    wallTime: {
      totalSeconds: Math.round(inputs.totalSeconds),
      trainSeconds: Math.round(inputs.trainSeconds),
      msPerStep: Math.round(inputs.msPerStep),
      cpuMsPerStep: Math.round(inputs.cpuMsPerStep),
      loadAverage: Math.round(loadavg()[0]! * 100) / 100,
      stepsThisRun: inputs.stepsThisRun,
    },
    environment: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown' },
    reproduce: inputs.options.command ?? 'pnpm --filter @peftjs/bench pretrain',
  };
}
