import { invalidArgument } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { SlotChain, concatRows } from './slot-chain';
import type { PromptProvider, PromptRequest } from './slots';

/**
 * The embeddings `prompt` slot: the soft-prompt providers of every method and adapter, in order;
 * their rows are concatenated as [batch, P, hidden]. A gated provider has its rows scaled by its
 * gate's first output (read from the provider's own rows, averaged over them).
 */
export class PromptChain extends SlotChain<PromptProvider, [request: PromptRequest], tf.Tensor> {
  readonly hiddenSize: number;

  constructor(hiddenSize: number) {
    super();
    this.hiddenSize = hiddenSize;
  }

  forward(request: PromptRequest): tf.Tensor {
    return tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (const link of this.activeLinks()) {
        let rows = link.provider.forward(request);
        if (rows.rank !== 3 || rows.shape[0] !== request.batchSize || rows.shape[2] !== this.hiddenSize) {
          invalidArgument('prompt output shape', rows.shape, `[${request.batchSize}, P, ${this.hiddenSize}]`);
        }
        if (link.gate) rows = tf.mul(rows, link.gate.scaleFor(rows, 3));
        parts.push(rows);
      }
      return parts.length === 0 ? tf.zeros([request.batchSize, 0, this.hiddenSize]) : concatRows(parts, 1);
    });
  }
}
