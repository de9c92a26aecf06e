import { PeftError, SeedStream, tf, type ModelInfo, type Module } from '@peftjs/core';

/** The model's word-embedding table [vocab, hidden]. */
export function wordEmbeddingTable(model: Module<any, any>, info: ModelInfo): tf.Tensor {
  return model.getParameter(`${info.paths.embeddings}.word.weight`).value;
}

/** Rows of the word-embedding table at `ids` [ids.length, hidden], checked against the vocabulary. */
export function wordEmbeddingRows(model: Module<any, any>, info: ModelInfo, ids: readonly number[], field: string): tf.Tensor {
  const outside = ids.filter((id) => id >= info.vocabSize);
  if (outside.length) {
    throw new PeftError('invalid-config', `${field} has token ids outside the vocabulary: ${outside.slice(0, 5).join(', ')}.`, { field, value: outside, allowed: `integers in 0..${info.vocabSize - 1}` });
  }
  return tf.tidy(() => tf.gather(wordEmbeddingTable(model, info), tf.tensor1d(ids as number[], 'int32')));
}

/** `ids` repeated and cut to `length` (HF's TEXT init: trim, or repeat ceil(P / n) times then trim). */
export function repeatToLength(ids: readonly number[], length: number): number[] {
  return Array.from({ length }, (_, i) => ids[i % ids.length]!);
}

/** `length` token ids drawn uniformly from the vocabulary (HF's SAMPLE_VOCAB). */
export function sampleVocabIds(vocabSize: number, length: number, seed: number): number[] {
  const random = new SeedStream(seed);
  return Array.from({ length }, () => random.nextInt(vocabSize));
}
