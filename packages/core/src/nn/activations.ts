import { PeftError } from '../errors/peft-error';
import { tf } from './tf';

export const ACTIVATIONS = ['gelu', 'gelu_new', 'relu', 'silu', 'tanh'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/** GELU with the exact erf form (BERT's `gelu`). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** GELU with the tanh approximation (GPT-2's `gelu_new`). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

export function activation(name: ActivationName): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'gelu':
      return gelu;
    case 'gelu_new':
      return geluTanh;
    case 'relu':
      return (x) => tf.relu(x);
    case 'silu':
      return (x) => tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
    case 'tanh':
      return (x) => tf.tanh(x);
    default:
      throw new PeftError('invalid-config', `Unknown activation ${String(name)}.`, { field: 'activation', value: name, allowed: ACTIVATIONS });
  }
}
