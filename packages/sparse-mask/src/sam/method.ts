import { definePeftMethod } from '@peftjs/core';
import { squaredGradientMethod } from '../shared/data-driven';
import { samConfigSchema } from './config';

/**
 * SAM, the Second-order Approximation Method (Fu et al., "On the Effectiveness of
 * Parameter-Efficient Fine-Tuning", §4). The loss near θ0 is approximated to second order with a
 * diagonal Hessian bounded by |λ_max| (Eq. 6); under that bound Theorem 3's optimal mask keeps the
 * ⌊mp⌋ entries of largest ∇L(θ0)_i². Algorithm 1: (1) gradients at θ0 over the data, (2) rank
 * entries by the squared gradient and take the top ⌊mp⌋, (3) train those.
 *
 * Step (1) runs in `calibrate` on the trainer's calibration batches (`calibrationBatches`, default
 * 8; one forward and backward each), accumulating Σ_b (∂L_b/∂θ_i)² per batch b; the ranking is
 * global over the target tensors (or per tensor with `allocation: 'per-tensor'`). Before
 * calibration the mask is random under the seed.
 *
 * @example
 * const tuned = peft(model, [sam({ density: 0.005 })]);
 * await new Trainer(tuned, { data, calibrationBatches: 16 }).train(); // calibrate chooses the mask
 */
export const samMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'sam',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'SAM (Fu et al. 2023): the k entries of largest accumulated squared gradient at θ0 train as a sparse delta.',
  configSchema: samConfigSchema,
  apply: (model, config, context) => squaredGradientMethod('sam', model, config, context, 'batch'),
});

/** `peft(model, [sam({ density: 0.005 })])` */
export const sam = samMethod;
