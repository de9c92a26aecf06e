import { Module } from '../nn/module';
import type { tf } from '../nn/tf';
import { tiedProjection } from './tied-projection';

/**
 * GPT-2's `lm_head` (role `head`): logits = h · Eᵀ with E the word embedding table, no bias.
 * It owns no parameter; the table is passed in on each call (tied weights).
 */
export class TiedLmHead extends Module<[hidden: tf.Tensor, wordEmbeddings: tf.Tensor], tf.Tensor> {
  constructor() {
    super();
    this.role = 'head';
  }

  forward(hidden: tf.Tensor, wordEmbeddings: tf.Tensor): tf.Tensor {
    return tiedProjection(hidden, wordEmbeddings);
  }
}
