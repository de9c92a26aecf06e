import { tf } from '../nn/tf';

/**
 * What masked attention scores get added: float32's most negative value, as HF transformers
 * uses (`torch.finfo(dtype).min`), so a fully masked row degrades to uniform weights like there.
 */
export const MASK_NEGATIVE = -3.4028234663852886e38;

export interface AdditiveMaskOptions {
  /** 0/1 float mask [batch, queryLength] over the real positions (undefined: all real). */
  paddingMask: tf.Tensor | undefined;
  /** Each query sees only keys at or before its own position (prefix rows always visible). */
  causal: boolean;
  queryLength: number;
  /** queryLength + prefix rows. */
  keyLength: number;
}

/**
 * The additive attention mask, broadcastable to scores [batch, heads, query, key]: 0 where a
 * query may attend, MASK_NEGATIVE where not. Prefix rows (the first keyLength − queryLength keys)
 * count as real tokens, as HF PEFT extends the attention mask with ones for them. Returns
 * undefined when nothing is masked, so an unmasked model pays nothing.
 */
export function additiveAttentionMask(options: AdditiveMaskOptions): tf.Tensor | undefined {
  const { paddingMask, causal, queryLength, keyLength } = options;
  const prefixLength = keyLength - queryLength;
  if (!paddingMask && !causal) return undefined;
  return tf.tidy(() => {
    let allowed: tf.Tensor | undefined;
    if (paddingMask) {
      const [batch] = paddingMask.shape as [number, number];
      const real = paddingMask.toFloat();
      const keys = prefixLength > 0 ? tf.concat([tf.ones([batch, prefixLength]), real], 1) : real;
      allowed = keys.reshape([batch, 1, 1, keyLength]);
    }
    if (causal) {
      // Query i sits at absolute position prefixLength + i and sees keys 0..prefixLength + i.
      const lowerTriangle = tf.linalg.bandPart(tf.ones([queryLength, keyLength]), -1, prefixLength).reshape([1, 1, queryLength, keyLength]);
      allowed = allowed ? tf.mul(allowed, lowerTriangle) : lowerTriangle;
    }
    return tf.mul(tf.sub(1, allowed!), MASK_NEGATIVE);
  });
}

/** A [batch, seq] 0/1 mask as float32, with `prefixOnes` leading columns of ones (prompt positions). */
export function extendPaddingMask(mask: tf.Tensor, prefixOnes: number): tf.Tensor {
  return tf.tidy(() => {
    const asFloat = mask.dtype === 'float32' ? mask : mask.toFloat();
    if (prefixOnes === 0) return asFloat.clone();
    return tf.concat([tf.ones([mask.shape[0]!, prefixOnes]), asFloat], 1);
  });
}
