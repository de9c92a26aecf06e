import { Linear, combineApplied, definePeftMethod, resolveWrappableTargets, type AppliedMethod } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { wrapTargets, wrappedTargetsMethod } from '../shared/wrapped-targets';
import { gloraConfigSchema } from './config';
import { GloraLinear } from './layer';

/**
 * GLoRA as a peftjs method: wraps each target Linear in a GloraLinear, the generalized update
 * W0 + W0 ⊙ A + B with bias b0 + b0 ⊙ D + E + C·W0 (Chavan et al., "One-for-All: Generalized LoRA
 * for Parameter-Efficient Fine-tuning", 2023, Eq. 10). Mergeable (exactly) and removable.
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
    const paths = resolveWrappableTargets(model, config.targets, { accept: (module) => module instanceof Linear, method: 'glora', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
    const layers = wrapTargets(model, paths, (current) => new GloraLinear(current as Linear, config));
    return combineApplied('glora', [wrappedTargetsMethod('glora', model, layers), modulesToSavePart(model, config.modulesToSave, 'glora', adapterName)]);
  },
});

/** `peft(model, [glora({ r: 4 })])` */
export const glora = gloraMethod;
