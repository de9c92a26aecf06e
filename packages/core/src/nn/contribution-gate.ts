import { Linear } from './linear';
import { Module } from './module';
import { tf } from './tf';

/**
 * A learned gate on a method's contribution, as UniPELT defines it (Mao et al., "UniPELT: A Unified
 * Framework for Parameter-Efficient Language Model Tuning", §3.2): G = σ(W_G·x + b_G) from the
 * input x of the sublayer or linear the method acts on. As in AdapterHub's implementation, the
 * per-token gate is averaged over the sequence, so each example gets one value per output:
 * g = mean_t σ(x_t·W + b), [batch, outputs]. One output scales an additive contribution; two
 * scale a prefix's keys and values separately.
 */
export class ContributionGate extends Module<[input: tf.Tensor], tf.Tensor> {
  readonly inFeatures: number;
  readonly outputs: number;

  constructor(inFeatures: number, outputs = 1) {
    super();
    this.inFeatures = inFeatures;
    this.outputs = outputs;
    this.role = 'gate';
    // torch.nn.Linear's default init (uniform ±1/√in), as AdapterHub's gate layers use.
    this.registerModule('projection', new Linear(inFeatures, outputs, { role: 'gate' }));
  }

  /** g [batch, outputs] from x [batch, seq, in] (averaged over seq) or [batch, in]. */
  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const perToken = tf.sigmoid(this.child('projection').forward(input));
      return perToken.rank === 3 ? tf.mean(perToken, 1) : perToken;
    });
  }

  /** The gate's first output shaped to broadcast over a [batch, ...] tensor of `rank`. */
  scaleFor(input: tf.Tensor, rank: number): tf.Tensor {
    return tf.tidy(() => {
      const gate = this.forward(input);
      const first = this.outputs === 1 ? gate : gate.slice([0, 0], [-1, 1]);
      return first.reshape([first.shape[0]!, ...new Array<number>(Math.max(0, rank - 1)).fill(1)]);
    });
  }
}
