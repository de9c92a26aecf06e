import { Parameter, tf, type PrefixKeyValue, type PrefixRequest } from '@peftjs/core';
import { PrefixRows, repeatOverBatch, type LayerPrefixRows } from '../shared/prefix-rows';

/**
 * One layer's adaptive prefix (Zhang et al., "Towards Adaptive Prefix Tuning", §3, Eq. 3–4): the
 * plain prefix [P_k; P_v] scaled per example and per prefix token by
 *   α_i = σ(h̄_{i−1}·W_i + b_i) ∈ R^P (token-level gate), λ_i ∈ R (layer-level scale),
 *   P̂_k = λ_i·α_i ⊙ P_k, P̂_v = λ_i·α_i ⊙ P_v,
 * where h̄_{i−1} is the layer's input averaged over its real (unmasked) positions. W_i starts at zero
 * (every gate 1/2), so the prefix starts at λ/2 of its rows.
 */
export class AdaptivePrefix extends PrefixRows {
  constructor(key: tf.Tensor, value: tf.Tensor, initialLayerScale: number) {
    const [length, hiddenSize] = key.shape as [number, number];
    super(length, hiddenSize);
    this.registerParameter('key', new Parameter(key, { kind: 'weight' }));
    this.registerParameter('value', new Parameter(value, { kind: 'weight' }));
    this.registerParameter('gateWeight', new Parameter(tf.zeros([hiddenSize, length]), { kind: 'weight' }));
    this.registerParameter('gateBias', new Parameter(tf.zeros([length]), { kind: 'bias' }));
    this.registerParameter('layerScale', new Parameter(tf.scalar(initialLayerScale).reshape([1]), { kind: 'scale' }));
  }

  rows(): LayerPrefixRows {
    return { key: this.parameter('key').value, value: this.parameter('value').value };
  }

  /** λ·α [batch, P] for the layer input: the masked mean of the hidden states through the gate. */
  scales(hidden: tf.Tensor, attentionMask: tf.Tensor | undefined): tf.Tensor {
    return tf.tidy(() => {
      let pooled: tf.Tensor;
      if (attentionMask) {
        const mask = attentionMask.toFloat().expandDims(2);
        pooled = tf.div(tf.sum(tf.mul(hidden, mask), 1), tf.maximum(tf.sum(mask, 1), 1));
      } else pooled = tf.mean(hidden, 1);
      const gate = tf.sigmoid(tf.add(tf.matMul(pooled, this.parameter('gateWeight').value), this.parameter('gateBias').value));
      return tf.mul(gate, this.parameter('layerScale').value);
    });
  }

  override forward(request: PrefixRequest): PrefixKeyValue {
    return tf.tidy(() => {
      const scale = this.scales(request.hidden, request.attentionMask).expandDims(2);
      const { key, value } = this.rows();
      return { key: tf.mul(repeatOverBatch(key, request.batchSize), scale), value: tf.mul(repeatOverBatch(value, request.batchSize), scale) };
    });
  }
}
