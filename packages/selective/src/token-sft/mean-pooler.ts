import { Module, gatherPositions, tf } from '@peftjs/core';
import { positionSlots, type TokenSftStepState } from './layer-runner';

/**
 * The pooler of token-position selective fine-tuning (Simoulin et al., "Memory-Efficient
 * Selective Fine-Tuning", §2, Eq. 1): tanh(dense(mean of last-layer states)), the mean taken over
 * the selected positions in training and over every real position in evaluation.
 *
 * BERT's pooler reads position 0 ([CLS]) only; the paper feeds the MLP the average instead. We
 * keep the pretrained pooler's dense + tanh after the mean, so the classifier sees inputs of the
 * same kind as it was built for. It takes over the base pooler's `dense` child under the same
 * path (`pooler.dense`), so checkpoints and other methods see the same parameter.
 */
export class TokenSftMeanPooler extends Module {
  constructor(
    /** The pooler it replaced, put back on remove. */
    readonly base: Module,
    private readonly state: TokenSftStepState,
  ) {
    super();
    this.role = base.role;
    this.registerModule('dense', base.child('dense'));
  }

  /** hidden [batch, seq, hidden] -> [batch, hidden]. */
  forward(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.tanh(this.child('dense').forward(this.meanState(hidden))));
  }

  private meanState(hidden: tf.Tensor): tf.Tensor {
    const { positions, mask } = this.state;
    if (this.training && positions && positions.length === hidden.shape[0]) {
      // Sequences select different counts (min(k, real tokens)): gather the padded slots and
      // average each row over its own selected positions only.
      const { slots, selected } = positionSlots(positions, mask);
      const weights = tf.tensor2d(selected, [slots.length, slots[0]!.length]).expandDims(2);
      const rows = gatherPositions(hidden, tf.tensor2d(slots, [slots.length, slots[0]!.length], 'int32'));
      return tf.div(tf.sum(tf.mul(rows, weights), 1), tf.sum(weights, 1));
    }
    if (!mask || mask.length !== hidden.shape[0] || mask[0]!.length !== hidden.shape[1]) return hidden.mean(1);
    const weights = tf.tensor2d(mask).expandDims(2);
    return tf.div(tf.sum(tf.mul(hidden, weights), 1), tf.sum(weights, 1));
  }
}
