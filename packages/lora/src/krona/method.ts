import { PeftError, definePeftMethod, resolveWrappableTargets, type AppliedMethod, type Module, type Parameter, type tf } from '@peftjs/core';
import { kronaConfigSchema } from './config';
import { KronaLinear, type KronaLinearLike } from './layer';

const PACKAGE_NAME = '@peftjs/lora';

/**
 * KronA as a peftjs method: wraps each target Linear in a KronaLinear, a Kronecker-product update
 * s·(A ⊗ B) (Edalati et al., "KronA: Parameter Efficient Tuning with Kronecker Adapter", 2022).
 * Full-rank-capable with a1·a2 + b1·b2 parameters per target; mergeable and removable.
 *
 * @example
 * const tuned = peft(model, [krona({ targets: { roles: ['all-linear'] } })]);
 */
export const kronaMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'krona',
  packageName: PACKAGE_NAME,
  kind: 'reparametrization',
  description: 'Kronecker-product updates s·(A ⊗ B) of chosen linears (Edalati et al. 2022); mergeable.',
  configSchema: kronaConfigSchema,
  apply(model, config): AppliedMethod {
    const paths = selectTargets(model, config.targets);
    const targets: Array<{ path: string; layer: KronaLinear }> = [];
    try {
      for (const path of paths) {
        const layer = model.replaceModule(path, (current) => new KronaLinear(current as KronaLinearLike, { inFactor: config.inFactor, outFactor: config.outFactor, scale: config.scale }));
        targets.push({ path, layer });
      }
    } catch (error) {
      // Put back what was wrapped before the failure, so a rejected config leaves the model as it was.
      unwrap(model, targets);
      throw error;
    }
    const keyed = (): Array<[string, Parameter]> =>
      targets.flatMap(({ path, layer }) => layer.ownNamedParameters().map(([name, parameter]): [string, Parameter] => [`${path}.${name}`, parameter]));
    return {
      name: 'krona',
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
            `krona: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}], wrong shapes [${wrongShape.map(([key, p]) => `${key}: [${state[key]!.shape.join(', ')}] vs [${p.shape.join(', ')}]`).join(', ')}].`,
            { field: 'state', value: Object.keys(state), allowed: [...expected].map(([key, p]) => `${key} [${p.shape.join(', ')}]`) },
          );
        }
        for (const [key, parameter] of expected) parameter.assign(state[key]!);
      },
      remove: () => unwrap(model, targets),
    };
  },
});

/** `peft(model, [krona({ scale: 2 })])` */
export const krona = kronaMethod;

/** Unmerges and replaces each wrapper by the module it holds (last first), disposing the wrapper's parameters. */
function unwrap(model: Module<any, any>, targets: ReadonlyArray<{ path: string; layer: KronaLinear }>): void {
  for (const { path, layer } of [...targets].reverse()) {
    layer.unmerge();
    model.replaceModule(path, () => layer.base);
    for (const [, parameter] of layer.ownNamedParameters()) parameter.dispose();
  }
}

function isLinearLike(module: Module<any, any>): module is KronaLinearLike {
  const candidate = module as unknown as Partial<KronaLinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}

function selectTargets(model: Module<any, any>, targets: Parameters<typeof resolveWrappableTargets>[1]): string[] {
  return resolveWrappableTargets(model, targets, { accept: isLinearLike, method: 'krona', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dimension, i) => dimension === b[i]);
}
