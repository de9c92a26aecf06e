import { definePeftMethod } from '@peftjs/core';
import { budgetOf, resolveSparseTargets, sparseMethod, topByScore } from '../shared/sparse-method';
import { magnitudeMaskConfigSchema } from './config';

/**
 * Magnitude mask (Fu et al., "On the Effectiveness of Parameter-Efficient Fine-Tuning", §3
 * "Rule-Based Approaches: MagPruning", after Han et al. and Lee et al.): M keeps the k entries of
 * largest |θ0| (or smallest), fixed before training; θ = θ0 + M ⊙ Δθ as a sparse delta.
 * Ties go to the lower global index.
 *
 * @example
 * const tuned = peft(model, [magnitudeMask({ density: 0.005 })]);
 */
export const magnitudeMaskMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'magnitude-mask',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'Magnitude mask (MagPruning): the k entries of largest (or smallest) |θ0| train as a sparse delta (Fu et al. 2023).',
  configSchema: magnitudeMaskConfigSchema,
  apply(model, config, context) {
    const { targets, saved } = resolveSparseTargets(model, config, 'magnitude-mask');
    const sign = config.order === 'largest' ? 1 : -1;
    const scores = targets.map(({ parameter }) => Float32Array.from(parameter.variable.dataSync() as Float32Array, (value) => sign * Math.abs(value)));
    const indices = topByScore(scores, budgetOf(targets, config.density, config.allocation), config.allocation, config.density);
    return sparseMethod({ name: 'magnitude-mask', model, context, targets, saved, initialIndices: indices });
  },
});

/** `peft(model, [magnitudeMask({ density: 0.01 })])` */
export const magnitudeMask = magnitudeMaskMethod;
