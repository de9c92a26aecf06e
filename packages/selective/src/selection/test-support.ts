import { SeedStream, tf, type PeftModel } from '@peftjs/core';
import type { ConformanceModel } from '@peftjs/core/testing';

/**
 * Seeded noise on every trained entry (and only those): adds noise to the trainable tensors, then
 * lets each method's afterStep put the frozen entries of partial tensors back, as after a real step.
 */
export function perturbSelected(model: PeftModel<ConformanceModel>): void {
  const random = new SeedStream(99);
  for (const parameter of model.trainableParameters()) {
    tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.1, 'float32', random.nextSeed()))));
  }
  for (const method of model.appliedMethods()) method.afterStep?.({ step: 0, totalSteps: 0, gradients: new Map() });
}
