import { crossEntropyLoss } from '../models/task-loss';
import type { Batch, ModelInputs, ModelOutput, TaskModel } from '../models/types';
import { Dropout } from '../nn/dropout';
import { Embedding } from '../nn/embedding';
import { LayerNorm } from '../nn/layer-norm';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { setGlobalSeed, SeedStream } from '../util/random';

/**
 * A tiny sequence classifier for trainer tests: mean of token embeddings over the attention
 * mask, LayerNorm, dropout, Linear head. It records the training flag of every forward call.
 */
export class TinyClassifier extends Module<[ModelInputs], ModelOutput> implements TaskModel {
  readonly task = 'sequence-classification' as const;
  /** The training flag seen by each forward, in call order. */
  readonly forwardModes: boolean[] = [];

  constructor(vocabSize = 12, hidden = 8, classes = 2, dropout = 0.1) {
    super();
    this.registerModule('embedding', new Embedding(vocabSize, hidden, { initStd: 0.5 }));
    this.registerModule('norm', new LayerNorm(hidden, { eps: 1e-5 }));
    this.registerModule('dropout', new Dropout(dropout));
    this.registerModule('classifier', new Linear(hidden, classes, { role: 'head' }));
  }

  forward(inputs: ModelInputs): ModelOutput {
    this.forwardModes.push(this.training);
    return tf.tidy(() => {
      const embedded = this.child<Embedding>('embedding').forward(inputs.inputIds);
      const mask = (inputs.attentionMask ?? tf.onesLike(inputs.inputIds)).toFloat().expandDims(-1);
      const pooled = tf.div(tf.sum(tf.mul(embedded, mask), 1), tf.maximum(tf.sum(mask, 1), 1));
      const hidden = this.child<Dropout>('dropout').forward(this.child<LayerNorm>('norm').forward(pooled));
      return { logits: this.child<Linear>('classifier').forward(hidden), lastHiddenState: hidden.expandDims(1) };
    });
  }

  taskLoss(output: ModelOutput, labels: tf.Tensor): tf.Scalar {
    return crossEntropyLoss(output.logits, labels);
  }
}

/** A TinyClassifier built from a fixed seed, so two calls give identical weights. */
export function makeTinyClassifier(seed = 1, dropout = 0.1): TinyClassifier {
  setGlobalSeed(seed);
  return new TinyClassifier(12, 8, 2, dropout);
}

/**
 * Deterministic labelled batches of a learnable rule (label = whether the first token id is
 * above the middle of the vocabulary), `count` batches of `batchSize` rows of `length` ids.
 */
export function makeBatches(count: number, batchSize = 4, length = 5, seed = 3): Batch[] {
  const stream = new SeedStream(seed);
  return Array.from({ length: count }, () => {
    const ids = Array.from({ length: batchSize * length }, () => stream.nextInt(12));
    const labels = Array.from({ length: batchSize }, (_, row) => (ids[row * length]! >= 6 ? 1 : 0));
    return {
      inputIds: tf.tensor2d(ids, [batchSize, length], 'int32'),
      attentionMask: tf.ones([batchSize, length], 'int32'),
      labels: tf.tensor1d(labels, 'int32'),
    };
  });
}

/** Every parameter's values, by path. */
export function snapshot(model: Module<any, any>): Record<string, number[]> {
  return Object.fromEntries(model.namedParameters().map(([path, parameter]) => [path, Array.from(parameter.value.dataSync())]));
}
