import { Module, tf, type PromptRequest } from '@peftjs/core';

/**
 * A provider of the embeddings' `prompt` slot whose soft tokens do not depend on the input: it
 * computes P rows [P, hidden] once per forward and repeats them over the batch, as HF PEFT's
 * `get_prompt` does (one prompt-encoder pass, `repeat(batch_size, 1, 1)`). Subclasses say how the
 * rows are made: a trained table (prompt tuning, SPoT), a prompt encoder (P-tuning), a frozen
 * decoder of an intrinsic vector (IPT).
 */
export abstract class PromptRows extends Module<[request: PromptRequest], tf.Tensor> {
  readonly length: number;
  readonly hiddenSize: number;

  constructor(length: number, hiddenSize: number) {
    super();
    this.length = length;
    this.hiddenSize = hiddenSize;
  }

  /** The soft tokens [P, hidden]; recorded on the tape when training. */
  abstract rows(): tf.Tensor;

  forward(request: PromptRequest): tf.Tensor {
    return tf.tidy(() => {
      const rows = this.rows().reshape([1, this.length, this.hiddenSize]);
      return request.batchSize === 1 ? rows : tf.tile(rows, [request.batchSize, 1, 1]);
    });
  }
}
