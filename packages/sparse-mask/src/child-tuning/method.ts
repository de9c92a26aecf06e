import { SeedStream, combineApplied, definePeftMethod, fromSelection, tf, type AppliedMethod, type Parameter } from '@peftjs/core';
import { squaredGradientMethod } from '../shared/data-driven';
import { resolveSparseTargets } from '../shared/sparse-method';
import { childTuningConfigSchema } from './config';

/**
 * ChildTuning (Xu et al., "Raise a Child in Large Language Model: Towards Effective and
 * Generalizable Fine-tuning", §3): only a child network's gradients update the weights,
 * w ← w − η·(∂L/∂w ⊙ M) (their Eq. 3).
 * - ChildTuning-D (§3.2): M keeps the top p_D entries by Fisher information
 *   F = (1/|D|) Σ (∂ log p(y|x)/∂w)² (their Eq. 5, per example), fixed before training: a sparse
 *   delta chosen in `calibrate` (same budget as FishMask: one backward per example, up to `maxExamples`).
 * - ChildTuning-F (§3.1): M_t ~ Bernoulli(p_F) drawn afresh each step and the kept gradient scaled
 *   by 1/p_F (their Eq. 4), in `transformGradients`; every target entry trains (not sparse: the
 *   whole target tensors are saved).
 *
 * @example
 * peft(model, [childTuning({ mode: 'D', density: 0.3 })]);
 * peft(model, [childTuning({ mode: 'F', density: 0.3, seed: 1 })]);
 */
export const childTuningMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'child-tuning',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'ChildTuning (Xu et al. 2021): D trains a Fisher-chosen child network as a sparse delta; F masks every step\'s gradients with a Bernoulli draw.',
  configSchema: childTuningConfigSchema,
  apply(model, config, context): AppliedMethod {
    if (config.mode === 'D') return squaredGradientMethod('child-tuning', model, config, context, 'example');
    const { targets, saved } = resolveSparseTargets(model, config, 'child-tuning');
    const selection = fromSelection({ name: 'child-tuning', model, subset: [...targets, ...saved].map(({ path, parameter }) => ({ path, parameter })), trainHead: false, mergeable: true });
    const masked = new Set<Parameter>(targets.map(({ parameter }) => parameter));
    const random = new SeedStream(config.seed);
    const p = config.density;
    const gradientMask: AppliedMethod = {
      name: 'child-tuning',
      claims: [],
      parameters: () => [],
      merge: () => undefined,
      unmerge: () => undefined,
      setEnabled: () => undefined,
      state: () => ({}),
      load: () => undefined,
      remove: () => undefined,
      transformGradients(gradients) {
        const next = new Map(gradients);
        for (const [parameter, gradient] of gradients) {
          if (!masked.has(parameter)) continue;
          const seed = random.nextSeed();
          next.set(parameter, tf.tidy(() => tf.mul(gradient, tf.div(tf.cast(tf.less(tf.randomUniform(gradient.shape, 0, 1, 'float32', seed), p), 'float32'), p))));
        }
        return next;
      },
    };
    return combineApplied('child-tuning', [selection, gradientMask]);
  },
});

/** `peft(model, [childTuning({ mode: 'F' })])` */
export const childTuning = childTuningMethod;
