import { evaluate, IGNORE_INDEX, type Batch, type BertModel } from '@peftjs/core';
import { selectEvenly } from '../tasks/select-evenly';
import type { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import { SPECIAL_TOKEN_IDS, SPECIAL_TOKENS } from '../tokenizer/special-tokens';
import type { PretrainingCorpus, PretrainingDocument } from './corpus';
import { packSequences } from './mlm-batches';

/** Tokenized, packed pretraining data and the unigram baseline's token. */
export interface MlmData {
  train: Int32Array[];
  evaluation: Int32Array[];
  trainTokens: number;
  /** The most frequent non-special token of the training sequences: the unigram baseline predicts it at every masked position. */
  unigramTokenId: number;
}

export const SPECIAL_IDS: readonly number[] = SPECIAL_TOKENS.map((_, id) => id);

function tokenizeDocuments(documents: readonly PretrainingDocument[], tokenizer: BenchTokenizer): number[][][] {
  return documents.map((document) => document.sentences.map((sentence) => tokenizer.tokenIds(sentence)));
}

/**
 * Tokenizes the corpus and packs it into sequences of `sequenceLength` tokens; the evaluation
 * set is at most `evaluationSequences` packed sequences spread evenly over the held-out MLM documents.
 */
export function prepareMlmData(corpus: PretrainingCorpus, tokenizer: BenchTokenizer, options: { sequenceLength: number; evaluationSequences: number }): MlmData {
  const pack = { length: options.sequenceLength, clsId: SPECIAL_TOKEN_IDS.cls, sepId: SPECIAL_TOKEN_IDS.sep };
  const train = packSequences(tokenizeDocuments(corpus.train, tokenizer), pack);
  const evaluation = selectEvenly(packSequences(tokenizeDocuments(corpus.evaluation, tokenizer), pack), options.evaluationSequences);
  const counts = new Float64Array(tokenizer.vocabSize);
  let trainTokens = 0;
  for (const sequence of train) {
    trainTokens += sequence.length;
    for (const id of sequence) counts[id] = counts[id]! + 1;
  }
  let unigramTokenId = SPECIAL_IDS.length;
  for (let id = SPECIAL_IDS.length; id < counts.length; id += 1) if (counts[id]! > counts[unigramTokenId]!) unigramTokenId = id;
  return { train, evaluation, trainTokens, unigramTokenId };
}

/** MLM accuracy of a model and of the unigram baseline on the same masked positions. */
export interface MlmEvaluation {
  /** Top-1 accuracy of the model at the masked positions. */
  accuracy: number;
  /** Mean cross-entropy at the masked positions (mean over batches). */
  loss: number;
  /** Accuracy of always predicting the unigram token. */
  unigramAccuracy: number;
  maskedTokens: number;
}

/** Evaluates the model (eval mode, full MLM head) and the unigram baseline on masked batches. */
export function evaluateMlm(model: BertModel, batches: readonly Batch[], unigramTokenId: number): MlmEvaluation {
  const metrics = evaluate({ model }, batches);
  let maskedTokens = 0;
  let unigramHits = 0;
  for (const batch of batches) {
    for (const label of batch.labels!.dataSync()) {
      if (label === IGNORE_INDEX) continue;
      maskedTokens += 1;
      if (label === unigramTokenId) unigramHits += 1;
    }
  }
  return { accuracy: metrics.accuracy ?? Number.NaN, loss: metrics.loss ?? Number.NaN, unigramAccuracy: maskedTokens === 0 ? 0 : unigramHits / maskedTokens, maskedTokens };
}
