import type { ModelInputs } from '../models/types';
import { tf } from '../nn/tf';

/**
 * The tokens a batch holds for throughput: the non-padding tokens (sum of the 0/1 attention
 * mask) when there is a mask, otherwise batch × sequence length. Reads the mask back (one sync).
 */
export function countTokens(inputs: Pick<ModelInputs, 'inputIds' | 'attentionMask'>): number {
  if (!inputs.attentionMask) return inputs.inputIds.size;
  const mask = inputs.attentionMask;
  return tf.tidy(() => tf.sum(tf.notEqual(mask, 0).toInt()).dataSync()[0]!);
}
