import { tf } from '@peftjs/core';
import type { AdaLoraLinear } from './layer';

/** How ‖XᵀX − I‖_F enters the regularizer. */
export type OrthogonalityNorm = 'frobenius' | 'squared-frobenius';

/**
 * ‖XᵀX − I‖_F for X [n, r] (columns orthonormal at 0), or its square. The plain norm is floored at
 * 1e-12 under the square root so that its gradient stays finite at an exactly orthogonal X
 * (PyTorch's norm backward gives 0 there; the floor changes the value by at most 1e-12).
 */
export function orthogonalityGap(x: tf.Tensor2D, norm: OrthogonalityNorm = 'squared-frobenius'): tf.Scalar {
  return tf.tidy(() => {
    const squared = tf.sum(tf.square(tf.sub(tf.matMul(x, x, true, false), tf.eye(x.shape[1]))));
    return (norm === 'squared-frobenius' ? squared : tf.sqrt(tf.maximum(squared, 1e-24))) as tf.Scalar;
  });
}

/**
 * AdaLoRA's orthogonality regularizer R(P, Q) = ‖PᵀP − I‖ + ‖QQᵀ − I‖ (Zhang et al. 2023, §3.1,
 * Eq. 4), weighted by `weight` and averaged over all A and B matrices as HF PEFT's
 * AdaLoraModel.forward does. HF takes the plain Frobenius norm (`torch.norm(p="fro")`), the paper
 * writes its square: `norm` chooses, and the method's default is HF's.
 */
export function orthogonalityPenalty(layers: readonly AdaLoraLinear[], weight: number, norm: OrthogonalityNorm): tf.Scalar {
  return tf.tidy(() => {
    const gaps = layers.flatMap((layer) => [orthogonalityGap(layer.loraA.value as tf.Tensor2D, norm), orthogonalityGap(tf.transpose(layer.loraB.value) as tf.Tensor2D, norm)]);
    return tf.mul(tf.div(tf.addN(gaps), gaps.length), weight) as tf.Scalar;
  });
}
