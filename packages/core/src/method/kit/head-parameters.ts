import type { Module } from '../../nn/module';
import { resolveTargets, type ParameterTarget } from '../selector';

/**
 * The parameters of the task head (modules with role `head`), trained in full when a selective
 * method's `trainHead` is on. A head tied to the word embeddings (GPT-2's LM head) owns none.
 */
export function headParameters(model: Module<any, any>): ParameterTarget[] {
  return resolveTargets(model, { roles: ['head'] }, { kind: 'parameter', allowEmpty: true });
}

/** True for parameters outside the head: what a method's subset may choose from. */
export function notInHead(model: Module<any, any>): (target: ParameterTarget) => boolean {
  const head = new Set(headParameters(model).map((target) => target.parameter));
  return (target) => !head.has(target.parameter);
}
