import { attachAdapters, combineApplied, definePeftMethod, detachAdapters, fromWrappers, isLinearLike, resolveWrappableTargets, type AppliedMethod, type Module } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { kronaConfigSchema } from './config';
import { KronaLinear } from './layer';

const PACKAGE_NAME = '@peftjs/lora';

/**
 * KronA as a peftjs method: adds to each target Linear a Kronecker-product update s·(A ⊗ B) in a
 * KronaLinear (Edalati et al., "KronA: Parameter Efficient Tuning with Kronecker Adapter", 2022).
 * Full-rank-capable with a1·a2 + b1·b2 parameters per target; mergeable and removable; several
 * named adapters share one KronaLinear per target.
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
    const targets = attachAdapters(model, selectTargets(model, config.targets), {
      adapterName,
      methodName: 'krona',
      wrapperType: KronaLinear,
      create: (current) => new KronaLinear(current, null),
      options: (_path, wrapper) => wrapper.resolveOptions(options),
    });
    try {
      return combineApplied('krona', [fromWrappers('krona', model, targets, adapterName), modulesToSavePart(model, config.modulesToSave, 'krona', adapterName)]);
    } catch (error) {
      detachAdapters(model, targets, adapterName);
      throw error;
    }
  },
});

/** `peft(model, [krona({ scale: 2 })])` */
export const krona = kronaMethod;

function selectTargets(model: Module<any, any>, targets: Parameters<typeof resolveWrappableTargets>[1]): string[] {
  return resolveWrappableTargets(model, targets, { accept: isLinearLike, method: 'krona', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
}
