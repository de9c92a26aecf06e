import { consume } from './consume';
import { dropoutMultiplier } from './dropout-op';
import { tf } from './tf';

export interface AttentionOptions {
  /** Additive mask broadcastable to [batch, heads, queries, keys] (0 to attend, a large negative to block). */
  mask?: tf.Tensor;
  /** Dropout on the probabilities; with it, `dropoutSeed` (the mask is drawn again from it in backward). */
  dropoutRate?: number;
  dropoutSeed?: number;
}

/**
 * Scaled dot-product attention (Vaswani et al., "Attention Is All You Need", §3.2.1, Eq. 1):
 * dropout(softmax(q·kᵀ/√d + mask))·v over [batch, heads, length, headDim] inputs, the keys and
 * values already holding any prefix rows. One custom-gradient op, the forward op for op as the
 * plain formulation (the dropout mask as tf.dropout draws it), that keeps q, k, v (and the mask)
 * only: backward recomputes the scores, the probabilities and the dropout mask from its seed. The
 * plain formulation's tape keeps about five [batch, heads, queries, keys] tensors (scores, masked
 * scores, probabilities, the dropout multiplier, the dropped probabilities).
 *
 * Backward, with P the probabilities, M the dropout multiplier and dO the output's gradient:
 * dV = (P∘M)ᵀ·dO, dP = (dO·vᵀ)∘M, dS = P∘(dP − rowsum(dP∘P)), dQ = dS·k/√d, dK = dSᵀ·q/√d.
 */
export function scaledDotProductAttention(query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, options: AttentionOptions = {}): tf.Tensor {
  const scale = Math.sqrt(query.shape[query.rank - 1]!);
  const rate = options.dropoutRate ?? 0;
  const seed = options.dropoutSeed;
  const dropout = rate > 0 && seed !== undefined;
  const mask = options.mask;

  // Each step below disposes what the next no longer needs: the [batch, heads, queries, keys]
  // temporaries are the largest tensors of a layer, and a tidy would hold them all to its end.

  /** Probabilities (and the dropout multiplier) from q and k, as the forward computes them. */
  const probabilities = (q: tf.Tensor, k: tf.Tensor, m: tf.Tensor | undefined): { p: tf.Tensor; multiplier?: tf.Tensor } => {
    const products = tf.matMul(q, k, false, true);
    let scores = consume(products, tf.div(products, scale));
    if (m) scores = consume(scores, tf.add(scores, m));
    const p = consume(scores, tf.softmax(scores));
    return dropout ? { p, multiplier: dropoutMultiplier(p.shape, 1 - rate, seed) } : { p };
  };

  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [q, k, v] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[3] as tf.GradSaveFunc;
    const { p, multiplier } = probabilities(q, k, mask);
    const dropped = multiplier ? consume([p, multiplier], tf.mul(p, multiplier)) : p;
    const value = consume(dropped, tf.matMul(dropped, v));
    save(mask ? [q, k, v, mask] : [q, k, v]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const { p, multiplier } = probabilities(sq, sk, sm);
        const dropped = multiplier ? tf.mul(p, multiplier) : p;
        const dv = tf.matMul(dropped, dy, true, false);
        if (dropped !== p) dropped.dispose();
        let dp = tf.matMul(dy, sv, false, true);
        if (multiplier) dp = consume([dp, multiplier], tf.mul(dp, multiplier));
        const rowSums = tf.tidy(() => tf.sum(tf.mul(dp, p), -1, true));
        const centred = consume([dp, rowSums], tf.sub(dp, rowSums));
        const weighted = consume([centred, p], tf.mul(p, centred));
        const dScores = consume(weighted, tf.div(weighted, scale));
        const dq = tf.matMul(dScores, sk);
        const dk = tf.matMul(dScores, sq, true, false);
        dScores.dispose();
        return [dq, dk, dv];
      },
    };
  });
  return (op as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor)(query, keys, values);
}

