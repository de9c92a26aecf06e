import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { disposeBatch, initBackend, loadHfBert, readJsonFile, type BackendPreference } from '@peftjs/core';
import { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import { SPECIAL_TOKEN_IDS } from '../tokenizer/special-tokens';
import { buildPretrainingCorpus, type PretrainingCorpusOptions, type PretrainingSource } from './corpus';
import { maskedEvaluationBatches } from './mlm-batches';
import { SPECIAL_IDS, evaluateMlm, prepareMlmData } from './mlm-data';
import type { BackboneModelCard } from './model-card';

/** What `evaluateBackbone` re-derived, next to what the card claims. */
export interface BackboneEvaluation {
  directory: string;
  backend: string;
  maskedTokens: number;
  accuracy: number;
  unigramAccuracy: number;
  unigramToken: string;
  loss: number;
  card: { accuracy: number; unigramAccuracy: number; maskedTokens: number };
  /** Accuracy and baseline within 0.001 of the card, and the same masked positions. */
  matchesCard: boolean;
  /** Files whose sha256 differs from the card's. */
  changedFiles: string[];
}

/**
 * Re-derives a backbone card's numbers from the committed files: rebuilds the held-out MLM
 * evaluation set from the corpora with the card's corpus options and the committed tokenizer,
 * masks it with the card's evaluation seed, and measures the model's MLM accuracy and the unigram
 * baseline's. Loads the checkpoint with `loadHfBert`, so it also proves the files load.
 */
export async function evaluateBackbone(
  directory: string,
  options: { backend?: BackendPreference; /** Documents to use instead of the installed corpora (tests). */ documents?: PretrainingCorpusOptions['documents']; tasks?: PretrainingCorpusOptions['tasks'] } = {},
): Promise<BackboneEvaluation> {
  const backend = await initBackend(options.backend !== undefined ? { prefer: options.backend } : {});
  const card = (await readJsonFile(join(directory, 'model-card.json'))) as BackboneModelCard;
  const changedFiles: string[] = [];
  for (const file of card.files) {
    const bytes = await readFile(join(directory, file.name));
    if (createHash('sha256').update(bytes).digest('hex') !== file.sha256) changedFiles.push(file.name);
  }
  const tokenizer = await BenchTokenizer.fromFile(join(directory, 'tokenizer.json'));
  const corpusOptions: PretrainingCorpusOptions = {
    sources: card.data.corpus.sources as PretrainingSource[],
    taskSplitSeed: card.data.corpus.taskSplitSeed,
    evaluationFraction: card.data.corpus.evaluationFraction,
    seed: card.data.corpus.seed,
    ...(card.data.corpus.maxDocumentsPerSource !== undefined ? { maxDocumentsPerSource: card.data.corpus.maxDocumentsPerSource } : {}),
    ...(options.documents !== undefined ? { documents: options.documents } : {}),
    ...(options.tasks !== undefined ? { tasks: options.tasks } : {}),
  };
  const data = prepareMlmData(buildPretrainingCorpus(corpusOptions), tokenizer, {
    sequenceLength: card.training.sequenceLength,
    evaluationSequences: card.mlm.evaluationSequencesLimit,
  });
  const batches = maskedEvaluationBatches(data.evaluation, {
    batchSize: card.training.batchSize,
    seed: card.mlm.evaluationSeed,
    padId: SPECIAL_TOKEN_IDS.pad,
    vocabSize: tokenizer.vocabSize,
    maskId: SPECIAL_TOKEN_IDS.mask,
    specialIds: SPECIAL_IDS,
  });
  const { model } = await loadHfBert(directory, { task: 'masked-lm' });
  try {
    const result = evaluateMlm(model, batches, data.unigramTokenId);
    const close = (a: number, b: number) => Math.abs(a - b) < 1e-3;
    return {
      directory,
      backend: backend.backend,
      maskedTokens: result.maskedTokens,
      accuracy: result.accuracy,
      unigramAccuracy: result.unigramAccuracy,
      unigramToken: tokenizer.idToToken(data.unigramTokenId) ?? String(data.unigramTokenId),
      loss: result.loss,
      card: { accuracy: card.mlm.accuracy, unigramAccuracy: card.mlm.unigramAccuracy, maskedTokens: card.mlm.maskedTokens },
      matchesCard: result.maskedTokens === card.mlm.maskedTokens && close(result.accuracy, card.mlm.accuracy) && close(result.unigramAccuracy, card.mlm.unigramAccuracy),
      changedFiles,
    };
  } finally {
    for (const batch of batches) disposeBatch(batch);
    model.dispose();
  }
}
