import type { AppliedMethod, CalibrationContext, StepInfo } from '../types';
import type { Parameter } from '../../nn/parameter';
import { tf } from '../../nn/tf';
import { checkStateKeys } from './strict-state';

/**
 * One applied method made of parts (wrappers, a selection, a trainable head, ...), so a method
 * that is "a selection plus new scales" or "adapters plus modules to save" is a few lines:
 * parameters, claims and state are the union of the parts (state keys must not collide); merge
 * runs the parts in order and unmerge in reverse; the method merges only if every part does;
 * hooks run part by part; remove goes in reverse.
 *
 * @example
 * return combineApplied('difffit', [fromSelection({ ... }), fromWrappers('difffit', model, scales, adapterName)]);
 */
export function combineApplied(name: string, parts: readonly AppliedMethod[]): AppliedMethod {
  const mergeable = parts.every((part) => typeof part.merge === 'function' && typeof part.unmerge === 'function');
  const withHook = <K extends keyof AppliedMethod>(hook: K) => parts.filter((part) => typeof part[hook] === 'function');
  const calibrating = withHook('calibrate');
  const regularizing = withHook('regularization');
  const transforming = withHook('transformGradients');
  const stepping = withHook('afterStep');
  const keyOwner = () => {
    const owners = new Map<string, AppliedMethod>();
    for (const part of parts) for (const key of Object.keys(part.state())) owners.set(key, part);
    return owners;
  };
  const combined: AppliedMethod = {
    name,
    claims: parts.flatMap((part) => part.claims),
    parameters: () => [...new Set(parts.flatMap((part) => part.parameters()))] as Parameter[],
    ...(mergeable
      ? {
          canMerge: () => parts.every((part) => part.canMerge?.() ?? true),
          merge: () => parts.forEach((part) => part.merge!()),
          unmerge: () => [...parts].reverse().forEach((part) => part.unmerge!()),
        }
      : {}),
    ...(parts.every((part) => typeof part.setEnabled === 'function') ? { setEnabled: (enabled: boolean) => parts.forEach((part) => part.setEnabled!(enabled)) } : {}),
    state: () => Object.assign({}, ...parts.map((part) => part.state())) as Record<string, tf.Tensor>,
    load(state) {
      const owners = keyOwner();
      const expected = new Map<string, readonly number[]>();
      for (const part of parts) for (const [key, tensor] of Object.entries(part.state())) expected.set(key, tensor.shape);
      checkStateKeys(name, expected, state);
      for (const part of parts) {
        const own = Object.fromEntries(Object.entries(state).filter(([key]) => owners.get(key) === part));
        part.load(own);
      }
    },
    ...(parts.every((part) => typeof part.remove === 'function') ? { remove: () => [...parts].reverse().forEach((part) => part.remove!()) } : {}),
  };
  if (calibrating.length) combined.calibrate = async (context: CalibrationContext) => {
    for (const part of calibrating) await part.calibrate!(context);
  };
  if (regularizing.length) combined.regularization = () => tf.tidy(() => tf.addN(regularizing.map((part) => part.regularization!())) as tf.Scalar);
  if (transforming.length) combined.transformGradients = (gradients) => transforming.reduce((current, part) => part.transformGradients!(current), gradients);
  if (stepping.length) combined.afterStep = (info: StepInfo) => stepping.forEach((part) => part.afterStep!(info));
  return combined;
}
