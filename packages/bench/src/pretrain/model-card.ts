import type { PretrainingCorpus } from './corpus';

/** What `model-card.json` holds: everything needed to judge and reproduce the embedded backbone. */
export interface BackboneModelCard {
  formatVersion: 1;
  name: string;
  description: string;
  architecture: {
    type: 'bert (post-LN), masked-LM head tied to the word embeddings';
    vocabSize: number;
    hiddenSize: number;
    numLayers: number;
    numHeads: number;
    intermediateSize: number;
    maxPositions: number;
  };
  parameterCount: number;
  files: Array<{ name: string; bytes: number; sha256: string }>;
  data: {
    sources: PretrainingCorpus['sources'];
    heldOut: Omit<PretrainingCorpus['heldOut'], 'documentIds'> & { documents: number; documentIdsSha256: string };
    trainSequences: number;
    trainTokens: number;
    evaluationDocuments: number;
    evaluationSequences: number;
    /** The corpus options, enough to rebuild the same corpus. */
    corpus: { sources: string[]; taskSplitSeed: number; evaluationFraction: number; seed: number; maxDocumentsPerSource?: number };
  };
  tokenizer: { type: 'WordPiece (BERT uncased)'; vocabSize: number; requestedVocabSize: number; trainedOn: string };
  training: {
    objective: string;
    steps: number;
    plannedSteps: number;
    stoppedEarly: boolean;
    resumedFrom?: string;
    batchSize: number;
    sequenceLength: number;
    tokensSeen: number;
    epochs: number;
    optimizer: string;
    learningRate: number;
    warmupSteps: number;
    weightDecay: number;
    seed: number;
    dropout: number;
  };
  lossCurve: Array<{ step: number; loss: number }>;
  evaluations: Array<{ step: number; accuracy: number; loss: number }>;
  mlm: {
    evaluationSeed: number;
    /** At most this many packed sequences form the evaluation set. */
    evaluationSequencesLimit: number;
    maskedTokens: number;
    accuracy: number;
    loss: number;
    unigramAccuracy: number;
    unigramToken: string;
    accuracyOverUnigram: number;
  };
  backend: { name: string; kernelsPatched: string[] };
  wallTime: {
    totalSeconds: number;
    trainSeconds: number;
    /** Wall-clock ms per step after the first (evaluations included). */
    msPerStep: number;
    /** CPU ms per step of this process: the step time on an otherwise idle core, whatever else ran. */
    cpuMsPerStep: number;
    /** 1-minute load average at the end (above the core count, wall times are inflated by other processes). */
    loadAverage: number;
    stepsThisRun: number;
  };
  environment: { node: string; platform: string; cpus: number; cpuModel: string };
  reproduce: string;
}

const percent = (value: number) => `${(100 * value).toFixed(2)}%`;
const integer = (value: number) => value.toLocaleString('en-US');

/** Loss points averaged over windows of steps, at most `points` of them: a readable curve from thousands of steps. */
export function lossCurvePoints(losses: readonly number[], points = 100): Array<{ step: number; loss: number }> {
  if (losses.length === 0) return [];
  const window = Math.max(1, Math.ceil(losses.length / points));
  const curve: Array<{ step: number; loss: number }> = [];
  for (let start = 0; start < losses.length; start += window) {
    const slice = losses.slice(start, start + window);
    curve.push({ step: start + slice.length, loss: Math.round((slice.reduce((a, b) => a + b, 0) / slice.length) * 1e4) / 1e4 });
  }
  return curve;
}

/** An SVG line chart of the loss curve (no dependencies; the card links it). */
export function lossCurveSvg(curve: ReadonlyArray<{ step: number; loss: number }>): string {
  const width = 640;
  const height = 320;
  const margin = { left: 56, right: 16, top: 24, bottom: 40 };
  const maxStep = Math.max(1, ...curve.map((p) => p.step));
  const losses = curve.map((p) => p.loss);
  const low = Math.min(...losses, Number.POSITIVE_INFINITY);
  const high = Math.max(...losses, Number.NEGATIVE_INFINITY);
  const span = high - low || 1;
  const x = (step: number) => margin.left + (step / maxStep) * (width - margin.left - margin.right);
  const y = (loss: number) => margin.top + ((high - loss) / span) * (height - margin.top - margin.bottom);
  const path = curve.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ');
  const ticks = [high, (high + low) / 2, low]
    .map((value) => `<text x="${margin.left - 6}" y="${y(value).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${value.toFixed(2)}</text>`)
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">MLM training loss</text>`,
    `<line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="#888"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="#888"/>`,
    ticks,
    `<text x="${margin.left}" y="${height - margin.bottom + 16}" text-anchor="middle">0</text>`,
    `<text x="${width - margin.right}" y="${height - margin.bottom + 16}" text-anchor="end">${maxStep}</text>`,
    `<text x="${width / 2}" y="${height - 8}" text-anchor="middle">step</text>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${path}"/>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The human-readable card (`model-card.md`). */
export function renderModelCard(card: BackboneModelCard): string {
  const a = card.architecture;
  const t = card.training;
  const lines = [
    `# ${card.name}`,
    '',
    card.description,
    '',
    '## Model',
    '',
    `BERT-style encoder (${a.type}): ${a.numLayers} layers, hidden ${a.hiddenSize}, ${a.numHeads} heads, FFN ${a.intermediateSize}, ` +
      `vocabulary ${integer(a.vocabSize)}, up to ${a.maxPositions} positions. ${integer(card.parameterCount)} parameters.`,
    '',
    '| file | bytes | sha256 |',
    '| --- | ---: | --- |',
    ...card.files.map((file) => `| ${file.name} | ${integer(file.bytes)} | \`${file.sha256.slice(0, 16)}…\` |`),
    '',
    'Load it with `loadHfBert(dir, { task })` from `@peftjs/core` (HF layout: `BertForMaskedLM.from_pretrained(dir)` reads it too) and ' +
      '`BenchTokenizer.fromFile(dir + "/tokenizer.json")`.',
    '',
    '## Data',
    '',
    '| source | documents | held out for tasks | MLM eval documents | train documents | train sentences | train characters |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...card.data.sources.map(
      (s) =>
        `| ${s.description} | ${integer(s.documents)} | ${integer(s.heldOutForTasks)} | ${integer(s.evaluationDocuments)} | ${integer(s.trainDocuments)} | ${integer(s.trainSentences)} | ${integer(s.trainCharacters)} |`,
    ),
    '',
    `**Held out.** ${card.data.heldOut.policy} ${integer(card.data.heldOut.documents)} documents excluded, ` +
      `${integer(card.data.heldOut.droppedDuplicateSentences)} duplicate sentences dropped (id list sha256 \`${card.data.heldOut.documentIdsSha256.slice(0, 16)}…\`).` +
      (card.data.corpus.maxDocumentsPerSource !== undefined ? ` Quick run: at most ${card.data.corpus.maxDocumentsPerSource} documents per source.` : ''),
    '',
    `Packed into ${integer(card.data.trainSequences)} sequences of up to ${t.sequenceLength} tokens (${integer(card.data.trainTokens)} tokens; ` +
      `[CLS] … [SEP], documents separated by [SEP]). Tokenizer: ${card.tokenizer.type}, ${integer(card.tokenizer.vocabSize)} tokens, trained on ${card.tokenizer.trainedOn}.`,
    '',
    '## Training',
    '',
    `${t.objective}. ${integer(t.steps)} steps${t.stoppedEarly ? ` (stopped early; ${integer(t.plannedSteps)} planned)` : ''} of ${t.batchSize} × ${t.sequenceLength} tokens ` +
      `(${integer(t.tokensSeen)} tokens, ${t.epochs.toFixed(2)} epochs), ${t.optimizer}, peak learning rate ${t.learningRate}, ${t.warmupSteps} warmup steps then linear decay, ` +
      `weight decay ${t.weightDecay}, dropout ${t.dropout}, seed ${t.seed}.` +
      (t.resumedFrom !== undefined ? ` Resumed from a checkpoint (${t.resumedFrom}).` : ''),
    '',
    `Backend: ${card.backend.name} (kernels patched: ${card.backend.kernelsPatched.join(', ') || 'none'}), on ${card.environment.cpus} × ${card.environment.cpuModel}, Node ${card.environment.node}. ` +
      `Wall time ${(card.wallTime.totalSeconds / 60).toFixed(1)} min (training ${(card.wallTime.trainSeconds / 60).toFixed(1)} min, ${Math.round(card.wallTime.msPerStep)} ms/step wall, ${Math.round(card.wallTime.cpuMsPerStep)} ms/step CPU; load average ${card.wallTime.loadAverage})` +
      (t.resumedFrom !== undefined
        ? ` for the resumed part only; all ${integer(t.steps)} steps at that rate take ${((t.steps * card.wallTime.msPerStep) / 60_000).toFixed(1)} min (${((t.steps * card.wallTime.cpuMsPerStep) / 60_000).toFixed(1)} min of CPU).`
        : '.'),
    '',
    '![loss curve](loss-curve.svg)',
    '',
    '| step | loss |',
    '| ---: | ---: |',
    ...selectRows(card.lossCurve, 12).map((p) => `| ${p.step} | ${p.loss.toFixed(3)} |`),
    '',
    '## Did it learn?',
    '',
    `On ${integer(card.mlm.maskedTokens)} masked positions of the held-out MLM evaluation set (fixed masking, seed ${card.mlm.evaluationSeed}):`,
    '',
    '| predictor | MLM accuracy |',
    '| --- | ---: |',
    `| this model | ${percent(card.mlm.accuracy)} |`,
    `| unigram baseline (always "${card.mlm.unigramToken}") | ${percent(card.mlm.unigramAccuracy)} |`,
    '',
    `The model is ${card.mlm.accuracyOverUnigram.toFixed(2)}× the unigram baseline; its MLM loss is ${card.mlm.loss.toFixed(3)} (perplexity ${Math.exp(card.mlm.loss).toFixed(1)}).`,
    '',
    '| step | eval accuracy | eval loss |',
    '| ---: | ---: | ---: |',
    ...card.evaluations.map((e) => `| ${e.step} | ${percent(e.accuracy)} | ${e.loss.toFixed(3)} |`),
    '',
    '## Reproduce',
    '',
    '```sh',
    card.reproduce,
    'pnpm --filter @peftjs/bench evaluate-backbone -- --dir <out dir>   # re-derives the numbers above',
    '```',
    '',
  ];
  return lines.join('\n');
}

function selectRows<T>(rows: readonly T[], count: number): T[] {
  if (rows.length <= count) return [...rows];
  return Array.from({ length: count }, (_, i) => rows[Math.round((i * (rows.length - 1)) / (count - 1))]!);
}
