import { PeftError, type AppliedMethod, type Module, type Parameter, type tf } from '@peftjs/core';

/** A wrapper around one target module: its own parameters, merge and enable. */
export interface TargetWrapper extends Module<any, any> {
  enabled: boolean;
  readonly base: Module<any, any>;
  merge(): void;
  unmerge(): void;
}

/**
 * The AppliedMethod of a method that wraps each target in a layer (KronA, GLoRA): claims, the
 * wrappers' own parameters keyed `<path>.<name>`, merge in order and unmerge in reverse, enable,
 * strict state loading (missing, unexpected or mis-shaped keys load nothing) and removal.
 */
export function wrappedTargetsMethod(name: string, model: Module<any, any>, targets: ReadonlyArray<{ path: string; layer: TargetWrapper }>): AppliedMethod {
  const keyed = () => keyedParameters(targets);
  return {
    name,
    claims: targets.map(({ path }) => ({ kind: 'wrap' as const, path })),
    parameters: () => keyed().map(([, parameter]) => parameter),
    merge: () => targets.forEach(({ layer }) => layer.merge()),
    unmerge: () => [...targets].reverse().forEach(({ layer }) => layer.unmerge()),
    setEnabled: (enabled) => targets.forEach(({ layer }) => (layer.enabled = enabled)),
    state: () => Object.fromEntries(keyed().map(([key, parameter]) => [key, parameter.value as tf.Tensor])),
    load(state) {
      const expected = new Map(keyed());
      const missing = [...expected.keys()].filter((key) => !(key in state));
      const unexpected = Object.keys(state).filter((key) => !expected.has(key));
      const wrongShape = [...expected].filter(([key, parameter]) => key in state && !sameShape(state[key]!.shape, parameter.shape));
      if (missing.length || unexpected.length || wrongShape.length) {
        throw new PeftError(
          'checkpoint-mismatch',
          `${name}: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}], wrong shapes [${wrongShape.map(([key, p]) => `${key}: [${state[key]!.shape.join(', ')}] vs [${p.shape.join(', ')}]`).join(', ')}].`,
          { field: 'state', value: Object.keys(state), allowed: [...expected].map(([key, p]) => `${key} [${p.shape.join(', ')}]`) },
        );
      }
      for (const [key, parameter] of expected) parameter.assign(state[key]!);
    },
    remove: () => unwrapTargets(model, targets),
  };
}

/** The wrappers' own parameters keyed `<path>.<name>`, in target order. */
export function keyedParameters(targets: ReadonlyArray<{ path: string; layer: Module<any, any> }>): Array<[string, Parameter]> {
  return targets.flatMap(({ path, layer }) => layer.ownNamedParameters().map(([parameterName, parameter]): [string, Parameter] => [`${path}.${parameterName}`, parameter]));
}

/** Unmerges and replaces each wrapper by the module it holds (last first), disposing the wrapper's parameters. */
export function unwrapTargets(model: Module<any, any>, targets: ReadonlyArray<{ path: string; layer: TargetWrapper }>): void {
  for (const { path, layer } of [...targets].reverse()) {
    layer.unmerge();
    model.replaceModule(path, () => layer.base);
    for (const [, parameter] of layer.ownNamedParameters()) parameter.dispose();
  }
}

/**
 * Wraps every path with `make`; if one fails, the ones already wrapped are put back, so a
 * rejected config leaves the model as it was.
 */
export function wrapTargets<L extends TargetWrapper>(model: Module<any, any>, paths: readonly string[], make: (current: Module<any, any>, path: string) => L): Array<{ path: string; layer: L }> {
  const targets: Array<{ path: string; layer: L }> = [];
  try {
    for (const path of paths) targets.push({ path, layer: model.replaceModule(path, (current) => make(current, path)) });
  } catch (error) {
    unwrapTargets(model, targets);
    throw error;
  }
  return targets;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dimension, i) => dimension === b[i]);
}
