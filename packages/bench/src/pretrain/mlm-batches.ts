import { IGNORE_INDEX, SeedStream, invalidArgument, tf, type Batch } from '@peftjs/core';

/** How tokens are chosen and corrupted for masked-LM training. */
export interface MlmMaskingOptions {
  /** Vocabulary size: random replacements are drawn from [0, vocabSize) minus the special ids. */
  vocabSize: number;
  /** Id of [MASK]. */
  maskId: number;
  /** Ids that are never masked nor drawn as random replacements ([PAD], [UNK], [CLS], [SEP], [MASK]). */
  specialIds: readonly number[];
  /** Chance that a (non-special) token is selected for prediction. Default 0.15. */
  maskProbability?: number;
  /** Of the selected tokens, the fraction replaced by [MASK]. Default 0.8. */
  maskTokenFraction?: number;
  /** Of the selected tokens, the fraction replaced by a random token (the rest are kept). Default 0.1. */
  randomTokenFraction?: number;
}

/** One masked sequence: the corrupted input and the labels (the original id where selected, −100 elsewhere). */
export interface MaskedSequence {
  inputIds: number[];
  labels: number[];
}

/** Masking options with defaults filled in and the replacement pool precomputed. */
export interface ResolvedMasking {
  maskId: number;
  special: ReadonlySet<number>;
  regularIds: Int32Array;
  maskProbability: number;
  maskTokenFraction: number;
  randomTokenFraction: number;
}

export function resolveMasking(options: MlmMaskingOptions): ResolvedMasking {
  const maskProbability = options.maskProbability ?? 0.15;
  const maskTokenFraction = options.maskTokenFraction ?? 0.8;
  const randomTokenFraction = options.randomTokenFraction ?? 0.1;
  if (!(maskProbability > 0 && maskProbability < 1)) invalidArgument('maskProbability', maskProbability, 'a number in (0, 1)');
  if (!(maskTokenFraction >= 0 && randomTokenFraction >= 0 && maskTokenFraction + randomTokenFraction <= 1)) {
    invalidArgument('maskTokenFraction + randomTokenFraction', [maskTokenFraction, randomTokenFraction], 'two fractions >= 0 summing to at most 1');
  }
  const special = new Set([...options.specialIds, options.maskId]);
  const regular: number[] = [];
  for (let id = 0; id < options.vocabSize; id += 1) if (!special.has(id)) regular.push(id);
  if (regular.length === 0) invalidArgument('vocabSize', options.vocabSize, 'a vocabulary with at least one non-special token');
  return { maskId: options.maskId, special, regularIds: Int32Array.from(regular), maskProbability, maskTokenFraction, randomTokenFraction };
}

/**
 * BERT's masking (Devlin et al., "BERT", §3.1 "Task #1: Masked LM" and Appendix A.1): each
 * non-special token is selected with probability 15%; a selected token becomes [MASK] 80% of the
 * time, a random (non-special) token 10%, and stays itself 10%; labels hold the original id at
 * selected positions and −100 elsewhere. Special tokens are never selected. A sequence with
 * maskable tokens always gets at least one selected (as the original `create_pretraining_data.py`'s
 * `max(1, round(n · 0.15))`), so no sequence contributes nothing to the loss.
 */
export function maskSequence(ids: ArrayLike<number>, stream: SeedStream, masking: ResolvedMasking): MaskedSequence {
  const inputIds = Array.from(ids);
  const labels = new Array<number>(inputIds.length).fill(IGNORE_INDEX);
  const candidates: number[] = [];
  let selected = 0;
  for (let i = 0; i < inputIds.length; i += 1) {
    if (masking.special.has(inputIds[i]!)) continue;
    candidates.push(i);
    if (stream.next() < masking.maskProbability) {
      corrupt(inputIds, labels, i, stream, masking);
      selected += 1;
    }
  }
  if (selected === 0 && candidates.length > 0) corrupt(inputIds, labels, candidates[stream.nextInt(candidates.length)]!, stream, masking);
  return { inputIds, labels };
}

function corrupt(inputIds: number[], labels: number[], position: number, stream: SeedStream, masking: ResolvedMasking): void {
  labels[position] = inputIds[position]!;
  const roll = stream.next();
  if (roll < masking.maskTokenFraction) inputIds[position] = masking.maskId;
  else if (roll < masking.maskTokenFraction + masking.randomTokenFraction) inputIds[position] = masking.regularIds[stream.nextInt(masking.regularIds.length)]!;
}

/**
 * Packs documents (each a list of token-id sentences) into sequences `[CLS] … [SEP]` of at most
 * `length` tokens: the token stream runs across sentence and document boundaries, with a [SEP]
 * between documents (RoBERTa's FULL-SENTENCES packing, Liu et al. 2019 §4.2), so short documents
 * such as WordNet glosses do not waste a padded sequence each. Only the last sequence may be shorter.
 */
export function packSequences(documents: Iterable<readonly (readonly number[])[]>, options: { length: number; clsId: number; sepId: number }): Int32Array[] {
  const body = options.length - 2;
  if (!(Number.isInteger(options.length) && body >= 1)) invalidArgument('length', options.length, 'an integer >= 3');
  const sequences: Int32Array[] = [];
  let chunk: number[] = [];
  const flush = () => {
    if (chunk.length > 0) sequences.push(Int32Array.from([options.clsId, ...chunk, options.sepId]));
    chunk = [];
  };
  const push = (id: number) => {
    chunk.push(id);
    if (chunk.length === body) flush();
  };
  for (const document of documents) {
    if (chunk.length > 0) push(options.sepId);
    for (const sentence of document) for (const id of sentence) push(id);
  }
  if (chunk.length > 0 && chunk[chunk.length - 1] === options.sepId) chunk.pop();
  flush();
  return sequences;
}

/** Masked sequences as one batch: right-padded with `padId` to the longest, labels −100 on padding. The tensors belong to the caller. */
export function collateMasked(masked: readonly MaskedSequence[], padId: number): Batch {
  if (masked.length === 0) invalidArgument('masked', [], 'at least one sequence');
  const length = Math.max(...masked.map((sequence) => sequence.inputIds.length));
  const size = masked.length * length;
  const inputIds = new Int32Array(size).fill(padId);
  const attentionMask = new Int32Array(size);
  const labels = new Int32Array(size).fill(IGNORE_INDEX);
  masked.forEach((sequence, row) => {
    inputIds.set(sequence.inputIds, row * length);
    labels.set(sequence.labels, row * length);
    attentionMask.fill(1, row * length, row * length + sequence.inputIds.length);
  });
  const shape: [number, number] = [masked.length, length];
  return { inputIds: tf.tensor2d(inputIds, shape, 'int32'), attentionMask: tf.tensor2d(attentionMask, shape, 'int32'), labels: tf.tensor2d(labels, shape, 'int32') };
}

export interface MlmBatchOptions extends MlmMaskingOptions {
  batchSize: number;
  /** Seeds the per-epoch order and masking. */
  seed: number;
  padId: number;
}

/** The seed of one epoch's stream, derived from the run's seed (golden-ratio mixing as in core's exampleBatches). */
function epochSeed(seed: number, epoch: number): number {
  return (seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
}

/**
 * Training data for core's `train()`: a function of the epoch yielding masked batches, with the
 * sequences in a seeded order and fresh masks each epoch (dynamic masking, RoBERTa §4.1). The same
 * seed and epoch give the same batches, which is what lets a resumed run continue where it stopped.
 */
export function mlmBatches(sequences: readonly ArrayLike<number>[], options: MlmBatchOptions): (epoch: number) => Iterable<Batch> {
  if (!(Number.isInteger(options.batchSize) && options.batchSize > 0)) invalidArgument('batchSize', options.batchSize, 'an integer > 0');
  if (sequences.length === 0) invalidArgument('sequences', [], 'at least one sequence');
  const masking = resolveMasking(options);
  return function* (epoch: number) {
    const stream = new SeedStream(epochSeed(options.seed, epoch));
    const order = Array.from({ length: sequences.length }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = stream.nextInt(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < order.length; start += options.batchSize) {
      const masked = order.slice(start, start + options.batchSize).map((index) => maskSequence(sequences[index]!, stream, masking));
      yield collateMasked(masked, options.padId);
    }
  };
}

/** A fixed evaluation set: every sequence masked once with the seed, in order, as batches the caller owns. */
export function maskedEvaluationBatches(sequences: readonly ArrayLike<number>[], options: MlmBatchOptions): Batch[] {
  const masking = resolveMasking(options);
  const stream = new SeedStream(options.seed);
  const batches: Batch[] = [];
  for (let start = 0; start < sequences.length; start += options.batchSize) {
    batches.push(collateMasked(sequences.slice(start, start + options.batchSize).map((ids) => maskSequence(ids, stream, masking)), options.padId));
  }
  return batches;
}
