import { definePeftMethod, fromSelection, notInHead, resolveTargets, type SelectiveAppliedMethod } from '@peftjs/core';
import { lnTuningConfigSchema } from './config';
import { hfSavesHead, hfTargetedNorms, lnTuningHfFormat, withLnTuningHf } from './hf-format';

/**
 * LayerNorm tuning: train only the LayerNorm scales (gamma) and/or shifts (beta) of chosen norms,
 * plus the task head. With `tensors: 'gamma'` and `norms: ['attention']`, `['ffn']` or both, it is
 * the g_LN1 / g_LN2 ablation of BitFit+ (Weng, Kerrigan and Yang, §3.2 ablation 3, §4.2 point 1a);
 * composed with BitFit, `peft(model, [bitfit(), lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'], trainHead: false })])`
 * is their "g_LN1, g_LN2 + BitFit" (§4.2 point 1b).
 *
 * Like BitFit it trains base tensors in place: merge is a no-op and disable() swaps the base
 * values back in. It reads and writes HF PEFT's LN_TUNING adapter files (`save(dir, { format: 'hf' })`,
 * `loadPeft`); see hf-format.ts.
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
  hf: lnTuningHfFormat,
  apply(model, config): SelectiveAppliedMethod {
    const tensorKinds = config.tensors === 'both' ? (['gamma', 'beta'] as const) : [config.tensors];
    const roles = config.norms.map((position) => `norm.${position}`);
    const subset =
      config.hfTargetModules !== undefined
        ? hfTargetedNorms(model, config, tensorKinds)
        : resolveTargets(model, { roles, tensorKinds: [...tensorKinds] }, { kind: 'parameter', field: 'ln-tuning.norms' })
            .filter(notInHead(model))
            .map(({ path, parameter }) => ({ path, parameter }));
    const trainHead = config.hfModulesToSave !== undefined ? hfSavesHead(model, config.hfModulesToSave) : config.trainHead;
    return withLnTuningHf(model, fromSelection({ name: 'ln-tuning', model, subset, trainHead, mergeable: true }));
  },
});

/** `peft(model, [lnTuning({ tensors: 'gamma' })])` */
export const lnTuning = lnTuningMethod;
