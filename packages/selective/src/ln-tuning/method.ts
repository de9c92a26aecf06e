import { definePeftMethod, fromSelection, notInHead, resolveTargets, type SelectiveAppliedMethod } from '@peftjs/core';
import { lnTuningConfigSchema } from './config';

/**
 * LayerNorm tuning: train only the LayerNorm scales (gamma) and/or shifts (beta) of chosen norms,
 * plus the task head. With `tensors: 'gamma'` and `norms: ['attention']`, `['ffn']` or both, it is
 * the g_LN1 / g_LN2 ablation of BitFit+ (Weng, Kerrigan and Yang, §3.2 ablation 3, §4.2 point 1a);
 * composed with BitFit, `peft(model, [bitfit(), lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'], trainHead: false })])`
 * is their "g_LN1, g_LN2 + BitFit" (§4.2 point 1b).
 *
 * Like BitFit it trains base tensors in place: merge is a no-op and disable() swaps the base
 * values back in.
 *
 * @example
 * const tuned = peft(model, [lnTuning({ tensors: 'gamma', norms: ['ffn'] })]); // g_LN2
 */
export const lnTuningMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'ln-tuning',
  packageName: '@peftjs/selective',
  kind: 'selective',
  description: 'Trains only LayerNorm gammas and/or betas of chosen norms (and the task head); merges as a no-op.',
  configSchema: lnTuningConfigSchema,
  apply(model, config): SelectiveAppliedMethod {
    const tensorKinds = config.tensors === 'both' ? ['gamma', 'beta'] : [config.tensors];
    const roles = config.norms.map((position) => `norm.${position}`);
    const subset = resolveTargets(model, { roles, tensorKinds }, { kind: 'parameter', field: 'ln-tuning.norms' })
      .filter(notInHead(model))
      .map(({ path, parameter }) => ({ path, parameter }));
    return fromSelection({ name: 'ln-tuning', model, subset, trainHead: config.trainHead, mergeable: true });
  },
});

/** `peft(model, [lnTuning({ tensors: 'gamma' })])` */
export const lnTuning = lnTuningMethod;
