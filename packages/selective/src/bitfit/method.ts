import { definePeftMethod, fromSelection, Linear, type Module, notInHead, resolveTargets, ROLE_GROUPS, type SelectiveAppliedMethod } from '@peftjs/core';
import { bitFitConfigSchema } from './config';
import { ZeroBiasLinear } from './layer';
import { resolveBitFitSubset } from './subsets';

/**
 * BitFit: train only the bias terms of a pretrained transformer (Ben-Zaken, Ravfogel and
 * Goldberg, "BitFit", 2021, §2), or one of the subsets BitFit and the BitFit+ replication
 * (Weng, Kerrigan and Yang) compare; see `BITFIT_SUBSETS`.
 *
 * BitFit trains the base model's own tensors in place, so merge is a no-op: the tuned model has no
 * extra modules and no inference overhead. disable() swaps the base values back in (kept from
 * apply time) and enable() swaps the trained ones back. Partial subsets train only their entries
 * (a gradient mask, and the base values rewritten after every step against weight decay) and save
 * only those entries with their flat indices.
 *
 * @example
 * const tuned = peft(model, [bitfit()]);                                   // all bias terms + head
 * const bq = peft(model, [bitfit({ subset: 'query-and-intermediate' })]);  // b_q and b_m2
 */
export const bitFitMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'bitfit',
  packageName: '@peftjs/selective',
  kind: 'selective',
  description: 'Trains only the bias terms (or a BitFit+ subset of them) and the task head; merges as a no-op.',
  configSchema: bitFitConfigSchema,
  apply(model, config): SelectiveAppliedMethod {
    const wrapped = config.addZeroBiases ? addZeroBiases(model) : [];
    try {
      const inLayers = config.layers ? new RegExp(`(^|\\.)layers\\.(${config.layers.join('|')})\\.`) : undefined;
      const subset = resolveBitFitSubset(model, config).filter((selection) => inLayers?.test(selection.path) ?? true);
      return fromSelection({
        name: 'bitfit',
        model,
        subset,
        trainHead: config.trainHead,
        // Added biases live in wrappers with no base bias to fold into, and must count as changed.
        mergeable: wrapped.length === 0,
        extraClaims: wrapped.map(({ path }) => ({ kind: 'wrap' as const, path })),
        onRemove: () => removeZeroBiases(model, wrapped),
      });
    } catch (error) {
      removeZeroBiases(model, wrapped);
      throw error;
    }
  },
});

/** `peft(model, [bitfit({ subset: 'all' })])` */
export const bitfit = bitFitMethod;

/** Wraps every bias-less Linear of the blocks and pooler (head excluded) in a ZeroBiasLinear. */
function addZeroBiases(model: Module<any, any>): Array<{ path: string; layer: ZeroBiasLinear }> {
  const outsideHead = notInHead(model);
  const targets = resolveTargets(model, { roles: [...ROLE_GROUPS['all-linear']!, 'pooler'], moduleTypes: ['Linear'] }, { kind: 'module', allowEmpty: true }).filter(
    ({ module }) => module instanceof Linear && module.bias === undefined && outsideHead({ path: '', parameter: module.weight, module, modulePath: '' }),
  );
  return targets.map(({ path }) => ({ path, layer: model.replaceModule(path, (current) => new ZeroBiasLinear(current as Linear)) }));
}

function removeZeroBiases(model: Module<any, any>, wrapped: ReadonlyArray<{ path: string; layer: ZeroBiasLinear }>): void {
  for (const { path, layer } of wrapped) {
    model.replaceModule(path, () => layer.base);
    layer.bias.dispose();
  }
}
