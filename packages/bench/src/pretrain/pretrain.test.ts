import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IGNORE_INDEX, SeedStream, createBert, loadHfBert, tf, type BertModel } from '@peftjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusDocument } from '../corpora/corpus-document';
import { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import type { BenchTask } from '../tasks/task';
import { evaluateBackbone } from './evaluate-backbone';
import { MaskedPositionsModel } from './masked-positions-model';
import type { BackboneModelCard } from './model-card';
import { BACKBONE_FILES, pretrainBackbone, type PretrainResult } from './pretrain';

const WORDS = 'the whale ship sea captain ahab sailed north south storm harpoon crew deck mast ocean wind wave boat oil night'.split(' ');

/** Deterministic pseudo-text: documents of short sentences over a small word list. */
function documents(prefix: string, count: number, seed: number): CorpusDocument<unknown>[] {
  const stream = new SeedStream(seed);
  return Array.from({ length: count }, (_, d) => {
    const sentences = Array.from({ length: 4 }, () => `${Array.from({ length: 5 + stream.nextInt(4) }, () => WORDS[stream.nextInt(WORDS.length)]).join(' ')}.`);
    return { id: `${prefix}${d}`, text: sentences.join(' '), sentences, metadata: {} };
  });
}

const corpusDocuments = { sotu: documents('s', 40, 1), 'moby-dick': documents('m', 20, 2) };
const task: BenchTask = {
  name: 'toy',
  description: 'toy',
  type: 'sequence-classification',
  metric: 'accuracy',
  labels: ['a'],
  train: [{ documentId: 's0', text: 'x', label: 0 }],
  validation: [{ documentId: 's1', text: 'x', label: 0 }],
  test: [{ documentId: 'm0', text: 'x', label: 0 }],
};

describe('pretrainBackbone (tiny run on the cpu backend)', () => {
  let directory: string;
  let result: PretrainResult;
  let model: BertModel;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
    directory = await mkdtemp(join(tmpdir(), 'peftjs-pretrain-'));
    result = await pretrainBackbone({
      outDir: directory,
      backend: 'cpu',
      vocabSize: 60,
      hiddenSize: 16,
      numLayers: 1,
      numHeads: 2,
      seq: 16,
      batchSize: 8,
      steps: 4,
      warmup: 1,
      learningRate: 1e-2,
      evalEvery: 2,
      evalSequences: 8,
      checkpointEvery: 2,
      corpus: { sources: ['sotu', 'moby-dick'], documents: corpusDocuments, tasks: [task], evaluationFraction: 0.1 },
      keepModel: true,
    });
    model = result.model!;
  });

  afterAll(async () => {
    model?.dispose();
    await rm(directory, { recursive: true, force: true });
  });

  it('writes the tokenizer, HF config and weights, the card and the loss curve, and removes its checkpoints', async () => {
    const files = (await readdir(directory)).sort();
    expect(files).toEqual([...BACKBONE_FILES, 'model-card.json', 'model-card.md'].sort());
    const config = JSON.parse(await readFile(join(directory, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ architectures: ['BertForMaskedLM'], hidden_size: 16, num_hidden_layers: 1, max_position_embeddings: 16 });
    const tokenizer = await BenchTokenizer.fromFile(join(directory, 'tokenizer.json'));
    expect(config['vocab_size']).toBe(tokenizer.vocabSize);
    expect(tokenizer.tokenIds('the whale')).not.toContain(1);
  });

  it('loads back with loadHfBert with identical MLM logits', async () => {
    const { model: loaded } = await loadHfBert(directory, { task: 'masked-lm' });
    model.eval();
    loaded.eval();
    const inputs = { inputIds: tf.tensor2d([[2, 10, 4, 12, 3], [2, 7, 8, 4, 3]], [2, 5], 'int32') };
    const expected = model.forward(inputs);
    const actual = loaded.forward(inputs);
    expect(actual.logits.shape).toEqual([2, 5, model.config.vocabSize]);
    expect(tf.max(tf.abs(tf.sub(actual.logits, expected.logits))).dataSync()[0]).toBe(0);
    tf.dispose([inputs.inputIds, expected.logits, expected.lastHiddenState, actual.logits, actual.lastHiddenState]);
    loaded.dispose();
  });

  it('writes a card with the data, held-out policy, steps, loss curve, accuracies, size, files, backend and wall time', async () => {
    const card = JSON.parse(await readFile(join(directory, 'model-card.json'), 'utf8')) as BackboneModelCard;
    expect(card.training).toMatchObject({ steps: 4, plannedSteps: 4, batchSize: 8, sequenceLength: 16, stoppedEarly: false });
    expect(card.parameterCount).toBe(model.parameters().reduce((sum, p) => sum + p.size, 0));
    expect(card.data.heldOut).toMatchObject({ tasks: ['toy'], documents: 2 });
    expect(card.data.sources.map((s) => [s.source, s.heldOutForTasks])).toEqual([['sotu', 1], ['moby-dick', 1]]);
    expect(card.lossCurve.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(card.evaluations.map((e) => e.step)).toEqual([0, 2, 4]);
    for (const file of card.files) expect(file.bytes).toBe((await stat(join(directory, file.name))).size);
    expect(card.backend.name).toBe('cpu');
    expect(card.wallTime.totalSeconds).toBeGreaterThanOrEqual(0);
    expect(card.mlm.maskedTokens).toBeGreaterThan(0);
    expect(card.mlm.accuracy).toBe(card.evaluations.at(-1)!.accuracy);
    expect(card.reproduce).toContain('pretrain');
    const markdown = await readFile(join(directory, 'model-card.md'), 'utf8');
    for (const heading of ['## Data', '## Training', '## Did it learn?', '## Reproduce']) expect(markdown).toContain(heading);
  });

  it('evaluateBackbone re-derives the card numbers from the files', async () => {
    const evaluation = await evaluateBackbone(directory, { backend: 'cpu', documents: corpusDocuments, tasks: [task] });
    expect(evaluation.changedFiles).toEqual([]);
    expect(evaluation.matchesCard).toBe(true);
    expect(evaluation.maskedTokens).toBeGreaterThan(0);
  });
});

describe('pretrainBackbone resume', () => {
  it('continues from the checkpoint a previous run left, keeping its losses', async () => {
    await tf.setBackend('cpu');
    const directory = await mkdtemp(join(tmpdir(), 'peftjs-pretrain-resume-'));
    const base = {
      outDir: directory,
      backend: 'cpu' as const,
      vocabSize: 60,
      hiddenSize: 8,
      numLayers: 1,
      numHeads: 2,
      seq: 12,
      batchSize: 8,
      warmup: 0,
      evalEvery: 100,
      evalSequences: 4,
      checkpointEvery: 2,
      corpus: { sources: ['sotu'] as const, documents: corpusDocuments, tasks: [task], evaluationFraction: 0.1 },
    };
    try {
      const first = await pretrainBackbone({ ...base, steps: 2, keepCheckpoints: true });
      expect((await readdir(join(directory, '.checkpoints'))).length).toBe(1);
      const second = await pretrainBackbone({ ...base, steps: 4 });
      expect(second.card.training.resumedFrom).toMatch(/^checkpoint-\d+\.safetensors$/);
      expect(second.card.training.steps).toBe(4);
      expect(second.card.wallTime.stepsThisRun).toBe(2);
      expect(second.card.lossCurve.slice(0, 2)).toEqual(first.card.lossCurve);
      expect(second.card.lossCurve).toHaveLength(4);
      expect(await readdir(directory)).not.toContain('.checkpoints');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('MaskedPositionsModel', () => {
  it('gives the same loss as the full MLM head over all positions', async () => {
    await tf.setBackend('cpu');
    const bert = createBert({ task: 'masked-lm', vocabSize: 30, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 8, hiddenDropout: 0, attentionDropout: 0 });
    const inputIds = tf.tensor2d([[2, 5, 4, 7, 3], [2, 9, 10, 4, 3]], [2, 5], 'int32');
    const attentionMask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], [2, 5], 'int32');
    const labels = tf.tensor2d([[IGNORE_INDEX, 6, 8, IGNORE_INDEX, IGNORE_INDEX], [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 11, IGNORE_INDEX]], [2, 5], 'int32');
    const sparse = new MaskedPositionsModel(bert);
    const full = tf.tidy(() => bert.taskLoss(bert.forward({ inputIds, attentionMask }), labels, attentionMask).dataSync()[0]!);
    const gathered = tf.tidy(() => sparse.taskLoss(sparse.forward({ inputIds, attentionMask }), labels).dataSync()[0]!);
    expect(gathered).toBeCloseTo(full, 5);
    tf.dispose([inputIds, attentionMask, labels]);
    bert.dispose();
  });
});
