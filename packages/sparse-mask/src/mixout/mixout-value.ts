import { tf } from '@peftjs/core';

/**
 * mixout(w, u; p) = u + M ⊙ (w − u) / (1 − p) with M ~ Bernoulli(1 − p) per entry (Lee, Cho and
 * Kang, "Mixout: Effective Regularization to Finetune Large-scale Pretrained Language Models", §3):
 * each entry is swapped for its pretrained value u with probability p, and the rest is rescaled so
 * that E[mixout(w, u)] = w. Its gradient with respect to w is M / (1 − p). The seed fixes M.
 */
export function mixoutValue(weight: tf.Tensor, pretrained: tf.Tensor, probability: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const keep = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(weight.shape, 0, 1, 'float32', seed), probability), 'float32'), 1 - probability);
    return tf.add(pretrained, tf.mul(keep, tf.sub(weight, pretrained)));
  });
}
