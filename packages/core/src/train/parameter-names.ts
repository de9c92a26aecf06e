import type { Parameter } from '../nn/parameter';
import type { TrainingTarget } from './types';

interface NamedParameterSource {
  namedParameters?(): Array<[string, Parameter]>;
}

/**
 * Stable names for the parameters being trained, for checkpoints: their dotted path in the model
 * tree when the model is a Module, else `external.<index>` (parameters a method holds outside
 * the tree), numbered in training order.
 */
export function trainableParameterNames(target: TrainingTarget, parameters: readonly Parameter[]): string[] {
  const source = target.model as TrainingTarget['model'] & NamedParameterSource;
  const paths = new Map<Parameter, string>();
  if (typeof source.namedParameters === 'function') for (const [path, parameter] of source.namedParameters()) paths.set(parameter, path);
  let external = 0;
  return parameters.map((parameter) => paths.get(parameter) ?? `external.${external++}`);
}
