import { SeedStream, combineApplied, definePeftMethod, fromSelection, tf, type AppliedMethod } from '@peftjs/core';
import { resolveSparseTargets } from '../shared/sparse-method';
import { mixoutConfigSchema } from './config';
import { mixoutValue } from './mixout-value';

/**
 * Mixout (Lee, Cho and Kang, "Mixout: Effective Regularization to Finetune Large-scale Pretrained
 * Language Models", §3; Fu et al. list it among the random approaches, §3): full fine-tuning of
 * the targets in which, at every training forward, each entry is replaced by its pretrained value
 * with probability p and the rest rescaled (see `mixoutValue`). A regularizer, not a sparse delta:
 * every target entry trains and is saved; in eval mode the weights are read as they are.
 *
 * Mechanism: the targets train in place (core's fromSelection); each target's value is
 * overridden, while its module is in training mode, with mixout(w, u) drawn afresh from a seeded
 * stream. Costs: one frozen copy u of the targets, and per training forward the mask and w − u on
 * the tape (two target-sized tensors per target).
 *
 * @example
 * const tuned = peft(model, [mixout({ probability: 0.7 })]);
 */
export const mixoutMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'mixout',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'Mixout (Lee et al. 2020): full fine-tuning where each weight is swapped for its pretrained value with probability p per training forward, rescaled.',
  configSchema: mixoutConfigSchema,
  apply(model, config): AppliedMethod {
    const { targets, saved } = resolveSparseTargets(model, config, 'mixout');
    const selection = fromSelection({ name: 'mixout', model, subset: [...targets, ...saved].map(({ path, parameter }) => ({ path, parameter })), trainHead: false, mergeable: true });
    const pretrained = targets.map(({ parameter }) => tf.clone(parameter.variable));
    const random = new SeedStream(config.seed);
    const install = (on: boolean) =>
      targets.forEach(({ parameter, module }, i) =>
        parameter.overrideValue(on ? () => (module.training ? mixoutValue(parameter.variable, pretrained[i]!, config.probability, random.nextSeed()) : parameter.variable) : undefined),
      );
    install(true);
    const regularizer: AppliedMethod = {
      name: 'mixout',
      claims: [],
      parameters: () => [],
      merge: () => undefined,
      unmerge: () => undefined,
      setEnabled: (enabled) => install(enabled),
      state: () => ({}),
      load: () => undefined,
      remove() {
        install(false);
        tf.dispose(pretrained);
      },
    };
    return combineApplied('mixout', [selection, regularizer]);
  },
});

/** `peft(model, [mixout({ probability: 0.7 })])` */
export const mixout = mixoutMethod;
