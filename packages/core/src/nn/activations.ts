import { PeftError } from '../errors/peft-error';
import { geluErfOp, geluTanhOp } from './gelu-op';
import { tf } from './tf';

export const ACTIVATIONS = ['gelu', 'gelu_new', 'relu', 'silu', 'tanh'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/** GELU with the exact erf form (BERT's `gelu`), keeping only x for backward (see `geluErfOp`). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return geluErfOp(x);
}

/** GELU with the tanh approximation (GPT-2's `gelu_new`), keeping only x for backward. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return geluTanhOp(x);
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
