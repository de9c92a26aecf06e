import { combineApplied, definePeftMethod, resolveWrappableTargets, type AppliedMethod, type Module } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { wrapTargets, wrappedTargetsMethod } from '../shared/wrapped-targets';
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
  apply(model, config, { adapterName }): AppliedMethod {
    const options = { inFactor: config.inFactor, outFactor: config.outFactor, scale: config.scale };
    const targets = wrapTargets(model, selectTargets(model, config.targets), (current) => new KronaLinear(current as KronaLinearLike, options));
    return combineApplied('krona', [wrappedTargetsMethod('krona', model, targets), modulesToSavePart(model, config.modulesToSave, 'krona', adapterName)]);
  },
});

/** `peft(model, [krona({ scale: 2 })])` */
export const krona = kronaMethod;

function isLinearLike(module: Module<any, any>): module is KronaLinearLike {
  const candidate = module as unknown as Partial<KronaLinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}

function selectTargets(model: Module<any, any>, targets: Parameters<typeof resolveWrappableTargets>[1]): string[] {
  return resolveWrappableTargets(model, targets, { accept: isLinearLike, method: 'krona', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
}
