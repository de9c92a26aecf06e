import { createBert } from '../models/bert-model';
import type { Batch, TaskModel } from '../models/types';
import type { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { SeedStream, setGlobalSeed } from '../util/random';

/** A model the conformance suite can run: a module tree with a task head. */
export type ConformanceModel = Module<any, any> & TaskModel;

/**
 * The default base model: a 2-layer BERT-style encoder (hidden 16) for 3-class sequence
 * classification, dropout off so outputs are deterministic. Same weights on every call.
 */
export function createConformanceBert(seed = 1234): ConformanceModel {
  setGlobalSeed(seed);
  return createBert({
    vocabSize: 50,
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 32,
    hiddenDropout: 0,
    attentionDropout: 0,
    task: 'sequence-classification',
    numLabels: 3,
  }) as unknown as ConformanceModel;
}

/** A deterministic batch for any reference model: random ids, one padded position, labels for its task. */
export function conformanceBatch(model: ConformanceModel, options: { batch?: number; seq?: number; seed?: number } = {}): Batch {
  const batch = options.batch ?? 3;
  const seq = options.seq ?? 6;
  const random = new SeedStream(options.seed ?? 7);
  const config = (model as unknown as { config?: { vocabSize?: number; numLabels?: number } }).config ?? {};
  const vocab = config.vocabSize ?? 50;
  const classes = config.numLabels ?? 2;
  const ids = Array.from({ length: batch * seq }, () => 1 + random.nextInt(vocab - 1));
  const mask = Array.from({ length: batch * seq }, (_, i) => (i === batch * seq - 1 ? 0 : 1));
  const perToken = model.task === 'token-classification' || model.task === 'masked-lm' || model.task === 'causal-lm';
  const labelRange = model.task === 'masked-lm' || model.task === 'causal-lm' ? vocab : classes;
  const labels =
    model.task === 'regression'
      ? tf.tensor1d(Array.from({ length: batch }, () => random.next() * 2 - 1))
      : perToken
        ? tf.tensor2d(Array.from({ length: batch * seq }, () => random.nextInt(labelRange)), [batch, seq], 'int32')
        : tf.tensor1d(Array.from({ length: batch }, () => random.nextInt(labelRange)), 'int32');
  return {
    inputIds: tf.tensor2d(ids, [batch, seq], 'int32'),
    attentionMask: tf.tensor2d(mask, [batch, seq], 'int32'),
    labels,
  };
}

export function disposeBatch(batch: Batch): void {
  tf.dispose([batch.inputIds, batch.attentionMask ?? [], batch.tokenTypeIds ?? [], batch.labels ?? []]);
}
