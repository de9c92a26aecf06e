import { Module, tf, type PrefixKeyValue, type PrefixRequest } from '@peftjs/core';

/** One layer's prefix: key and value rows, each [P, hidden] (heads laid out as [heads, headDim]). */
export interface LayerPrefixRows {
  key: tf.Tensor;
  value: tf.Tensor;
}

/**
 * A provider of one attention sublayer's `prefix` slot (Li & Liang, "Prefix-Tuning", §4.1: the
 * activations h_i for i in P_idx are free parameters at every layer): P key rows and P value rows
 * that every query attends to. Rows that do not depend on the input are made once per forward and
 * repeated over the batch; subclasses that read the input (adaptive prefix gates) override forward.
 */
export abstract class PrefixRows extends Module<[request: PrefixRequest], PrefixKeyValue> {
  readonly length: number;
  readonly hiddenSize: number;

  constructor(length: number, hiddenSize: number) {
    super();
    this.length = length;
    this.hiddenSize = hiddenSize;
  }

  /** This layer's key and value rows, each [P, hidden]. */
  abstract rows(): LayerPrefixRows;

  forward(request: PrefixRequest): PrefixKeyValue {
    return tf.tidy(() => {
      const { key, value } = this.rows();
      return { key: repeatOverBatch(key, request.batchSize), value: repeatOverBatch(value, request.batchSize) };
    });
  }
}

/** [P, hidden] -> [batch, P, hidden]. */
export function repeatOverBatch(rows: tf.Tensor, batchSize: number): tf.Tensor {
  const [length, size] = rows.shape as [number, number];
  const one = rows.reshape([1, length, size]);
  return batchSize === 1 ? one : tf.tile(one, [batchSize, 1, 1]);
}
