import { invalidArgument } from '../errors/peft-error';
import { IGNORE_INDEX } from '../models/task-loss';
import type { Batch } from '../models/types';
import { tf } from '../nn/tf';
import { SeedStream } from '../util/random';
import { shuffledIndices } from './shuffle';

/** One tokenized example. */
export interface Example {
  inputIds: readonly number[];
  /** A class id or target value (sequence tasks), or one label per token (token tasks, LM; −100 = ignore). */
  labels?: number | readonly number[];
  tokenTypeIds?: readonly number[];
}

export interface CollateOptions {
  /** Token id used for padding. Default 0 (BERT's [PAD]). */
  padId?: number;
  /** Truncate longer examples to this many tokens (labels per token too). */
  maxLength?: number;
  /** dtype of per-example labels. Default: int32 if every label is an integer, else float32. Token labels are int32. */
  labelDtype?: 'int32' | 'float32';
}

/**
 * Pads examples on the right to the longest one into a Batch: inputIds int32 [B, T] (padId),
 * attentionMask int32 [B, T] (1 real, 0 pad), tokenTypeIds (0 pad) when given, and labels
 * ([B], or [B, T] padded with −100 for per-token labels). The tensors belong to the caller.
 */
export function collateExamples(examples: readonly Example[], options: CollateOptions = {}): Batch {
  const padId = options.padId ?? 0;
  if (examples.length === 0) invalidArgument('examples', [], 'at least one example');
  const truncate = <T>(values: readonly T[]) => (options.maxLength === undefined ? values : values.slice(0, options.maxLength));
  const inputs = examples.map((e) => truncate(e.inputIds));
  const length = Math.max(...inputs.map((ids) => ids.length));
  if (length === 0) invalidArgument('examples[].inputIds', [], 'at least one token');
  const pad = <T>(values: readonly T[], fill: T) => [...values, ...new Array<T>(length - values.length).fill(fill)];
  const batchSize = examples.length;
  const batch: Batch = {
    inputIds: tf.tensor2d(inputs.flatMap((ids) => pad(ids, padId)), [batchSize, length], 'int32'),
    attentionMask: tf.tensor2d(inputs.flatMap((ids) => pad(ids.map(() => 1), 0)), [batchSize, length], 'int32'),
  };
  if (examples.some((e) => e.tokenTypeIds !== undefined)) {
    batch.tokenTypeIds = tf.tensor2d(
      examples.flatMap((e, i) => pad(truncate(e.tokenTypeIds ?? inputs[i]!.map(() => 0)), 0)),
      [batchSize, length],
      'int32',
    );
  }
  const labels = examples.map((e) => e.labels);
  if (labels.every((label) => label === undefined)) return batch;
  if (labels.some((label) => label === undefined)) invalidArgument('examples[].labels', 'some missing', 'labels on every example or on none');
  if (labels.every((label) => typeof label === 'number')) {
    const numbers = labels as number[];
    const dtype = options.labelDtype ?? (numbers.every(Number.isInteger) ? 'int32' : 'float32');
    batch.labels = tf.tensor1d(numbers, dtype);
  } else if (labels.every((label) => Array.isArray(label))) {
    const perToken = (labels as number[][]).map((tokens, i) => {
      if (tokens.length !== examples[i]!.inputIds.length) invalidArgument(`examples[${i}].labels.length`, tokens.length, `one label per token (${examples[i]!.inputIds.length})`);
      return pad(truncate(tokens), IGNORE_INDEX);
    });
    batch.labels = tf.tensor2d(perToken.flat(), [batchSize, length], 'int32');
  } else {
    invalidArgument('examples[].labels', 'a mix of numbers and arrays', 'numbers on every example or arrays on every example');
  }
  return batch;
}

export interface ExampleBatchOptions extends CollateOptions {
  batchSize: number;
  /** Shuffle the examples each epoch. Default true for `exampleBatches`, false for `batchExamples`. */
  shuffle?: boolean;
  /** Seed of the shuffle; epoch e uses its own stream derived from it, so an epoch's order is fixed. Default 42. */
  seed?: number;
  /** Drop a last batch smaller than batchSize. Default false. */
  dropLast?: boolean;
}

/** Example indices split into batches for one epoch. */
function batchIndices(count: number, epoch: number, options: ExampleBatchOptions, shuffleByDefault: boolean): number[][] {
  if (!(Number.isInteger(options.batchSize) && options.batchSize > 0)) invalidArgument('batchSize', options.batchSize, 'an integer > 0');
  const seed = options.seed ?? 42;
  const order = (options.shuffle ?? shuffleByDefault)
    ? shuffledIndices(count, new SeedStream((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0))
    : Array.from({ length: count }, (_, i) => i);
  const batches: number[][] = [];
  for (let start = 0; start < count; start += options.batchSize) {
    const indices = order.slice(start, start + options.batchSize);
    if (options.dropLast && indices.length < options.batchSize) break;
    batches.push(indices);
  }
  return batches;
}

/**
 * Training data from plain examples: a function of the epoch that yields padded batches lazily,
 * shuffled per epoch with a seeded order (pass it as `TrainOptions.data`; the trainer disposes
 * each batch after use).
 */
export function exampleBatches(examples: readonly Example[], options: ExampleBatchOptions): (epoch: number) => Iterable<Batch> {
  return function* (epoch: number) {
    for (const indices of batchIndices(examples.length, epoch, options, true)) {
      yield collateExamples(indices.map((i) => examples[i]!), options);
    }
  };
}

/** All batches at once, in order unless `shuffle` is set (e.g. an eval set). The tensors belong to the caller. */
export function batchExamples(examples: readonly Example[], options: ExampleBatchOptions): Batch[] {
  return batchIndices(examples.length, 0, options, false).map((indices) => collateExamples(indices.map((i) => examples[i]!), options));
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: Batch): void {
  for (const tensor of [batch.inputIds, batch.attentionMask, batch.tokenTypeIds, batch.labels]) tensor?.dispose();
}
