import { Linear, PeftError, attachAdapters, combineApplied, definePeftMethod, detachAdapters, findWrapper, fromWrappers, resolveWrappableTargets, type AppliedMethod, type Module } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { gloraConfigSchema } from './config';
import { GloraLinear } from './layer';

/**
 * GLoRA as a peftjs method: adds to each target Linear the generalized update W0 + W0 ⊙ A + B with
 * bias b0 + b0 ⊙ D + E + C·W0 in a GloraLinear (Chavan et al., "One-for-All: Generalized LoRA for
 * Parameter-Efficient Fine-tuning", 2023, Eq. 10). Mergeable (exactly) and removable; several named
 * adapters share one GloraLinear per target.
 *
 * @example
 * const tuned = peft(model, [glora({ r: 4, a: 'vector', b: 'lora', targets: { roles: ['all-linear'] } })]);
 */
export const gloraMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'glora',
  packageName: '@peftjs/lora',
  kind: 'reparametrization',
  description: 'Generalized LoRA: W0 + W0⊙A + B and b0 + b0⊙D + E + C·W0 with low-rank/vector/scalar terms (Chavan et al. 2023); mergeable.',
  configSchema: gloraConfigSchema,
  apply(model, config, { adapterName }): AppliedMethod {
    // A Linear, or a GloraLinear (possibly under other wrappers) that takes the adapter beside its others.
    const accept = (module: Module<any, any>) => module instanceof Linear || findWrapper(module, GloraLinear) !== undefined;
    const paths = resolveWrappableTargets(model, config.targets, { accept, method: 'glora', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
    const targets = attachAdapters(model, paths, {
      adapterName,
      methodName: 'glora',
      wrapperType: GloraLinear,
      create(current, path) {
        if (!(current instanceof Linear)) throw new PeftError('invalid-argument', `glora wraps Linear modules; ${path} is a ${current.constructor.name}.`, { field: 'targets', value: path, allowed: ['Linear'] });
        return new GloraLinear(current);
      },
      options: () => ({ r: config.r, a: config.a, b: config.b, c: config.c, d: config.d, e: config.e }),
    });
    try {
      return combineApplied('glora', [fromWrappers('glora', model, targets, adapterName), modulesToSavePart(model, config.modulesToSave, 'glora', adapterName)]);
    } catch (error) {
      detachAdapters(model, targets, adapterName);
      throw error;
    }
  },
});

/** `peft(model, [glora({ r: 4 })])` */
export const glora = gloraMethod;
