import { PeftError } from '../../errors/peft-error';
import type { Parameter } from '../../nn/parameter';
import type { tf } from '../../nn/tf';

/** True when two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dimension, i) => dimension === b[i]);
}

/**
 * Checks saved tensors against the tensors expected under the same keys: missing, unexpected or
 * mis-shaped keys are one 'checkpoint-mismatch' error that names them all (and nothing is loaded).
 */
export function checkStateKeys(owner: string, expected: ReadonlyMap<string, readonly number[]>, saved: Record<string, tf.Tensor>): void {
  const missing = [...expected.keys()].filter((key) => !(key in saved));
  const unexpected = Object.keys(saved).filter((key) => !expected.has(key));
  const wrongShape = [...expected].filter(([key, shape]) => key in saved && !sameShape(saved[key]!.shape, shape));
  if (!missing.length && !unexpected.length && !wrongShape.length) return;
  const parts = [
    missing.length ? `missing ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''}` : '',
    unexpected.length ? `unexpected ${unexpected.slice(0, 6).join(', ')}${unexpected.length > 6 ? ', …' : ''}` : '',
    ...wrongShape.slice(0, 6).map(([key, shape]) => `${key} has shape [${saved[key]!.shape.join(', ')}], expected [${shape.join(', ')}]`),
  ].filter(Boolean);
  throw new PeftError('checkpoint-mismatch', `The saved tensors of "${owner}" do not fit the model: ${parts.join('; ')}.`, {
    field: `${owner}.state`,
    value: [...missing, ...unexpected, ...wrongShape.map(([key]) => key)],
    allowed: [...expected].map(([key, shape]) => `${key} [${shape.join(', ')}]`),
  });
}

/** Loads saved tensors into keyed parameters after `checkStateKeys`; all or nothing. */
export function loadParametersStrict(owner: string, keyed: ReadonlyArray<readonly [string, Parameter]>, saved: Record<string, tf.Tensor>): void {
  checkStateKeys(owner, new Map(keyed.map(([key, parameter]) => [key, parameter.shape])), saved);
  for (const [key, parameter] of keyed) parameter.assign(saved[key]!);
}

/** Keyed parameters as a state record (the parameters' own variables; the caller must not dispose them). */
export function stateOf(keyed: ReadonlyArray<readonly [string, Parameter]>): Record<string, tf.Tensor> {
  return Object.fromEntries(keyed.map(([key, parameter]) => [key, parameter.variable as tf.Tensor]));
}
