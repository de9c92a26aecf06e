import { invalidArgument } from '../errors/peft-error';
import { tf } from '../nn/tf';

/** The L2 norm of all gradients taken together, √(Σ‖gᵢ‖²), read back as a number. */
export function globalNorm(gradients: Iterable<tf.Tensor>): number {
  const list = [...gradients];
  if (list.length === 0) return 0;
  const norm = tf.tidy(() => tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g.toFloat()))))));
  const value = norm.dataSync()[0]!;
  norm.dispose();
  return value;
}

export interface ClippedGradients<K> {
  /** The gradients after clipping: new tensors where scaled, the given ones where not. */
  gradients: Map<K, tf.Tensor>;
  /** The global norm before clipping. */
  norm: number;
}

/**
 * Scales all gradients by `maxNorm / (norm + 1e-6)` when their global norm exceeds `maxNorm`,
 * like PyTorch's `clip_grad_norm_` (which HF's Trainer uses with max_grad_norm = 1). The input
 * tensors are not disposed; scaled tensors are new and belong to the caller.
 */
export function clipByGlobalNorm<K>(gradients: ReadonlyMap<K, tf.Tensor>, maxNorm: number): ClippedGradients<K> {
  if (!(maxNorm > 0)) invalidArgument('maxNorm', maxNorm, 'a number > 0');
  const norm = globalNorm(gradients.values());
  const coefficient = maxNorm / (norm + 1e-6);
  if (!(coefficient < 1)) return { gradients: new Map(gradients), norm };
  const clipped = new Map<K, tf.Tensor>();
  for (const [key, gradient] of gradients) clipped.set(key, tf.mul(gradient, coefficient));
  return { gradients: clipped, norm };
}
