import { definePeftMethod } from '@peftjs/core';
import { squaredGradientMethod } from '../shared/data-driven';
import { fishMaskConfigSchema } from './config';

/**
 * FishMask (Sung, Nair and Raffel, "Training Neural Networks with Fixed Sparse Masks", §2; the
 * survey "Scaling Down to Scale Up", §8.4): the k entries of largest diagonal empirical Fisher
 * F̂_θ = (1/N) Σ_i (∇_θ log p(y_i | x_i))² (their Eq. 2, per example) train; the mask is fixed.
 *
 * Budget: `calibrate` runs one forward and backward per example of the trainer's calibration
 * batches, up to `maxExamples` (default 256). Before calibration the mask is random under the seed.
 *
 * @example
 * const tuned = peft(model, [fishMask({ density: 0.005, maxExamples: 128 })]);
 */
export const fishMaskMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'fish-mask',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'FishMask (Sung et al. 2021): the k entries of largest empirical Fisher (per-example squared gradients) train as a sparse delta.',
  configSchema: fishMaskConfigSchema,
  apply: (model, config, context) => squaredGradientMethod('fish-mask', model, config, context, 'example'),
});

/** `peft(model, [fishMask({ density: 0.005 })])` */
export const fishMask = fishMaskMethod;
