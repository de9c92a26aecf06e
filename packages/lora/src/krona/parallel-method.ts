import { PeftError, combineApplied, definePeftMethod, loadParametersStrict, requireModelInfo, resolveWrappableTargets, stateOf, targetSelectorSchema, z, type AppliedMethod, type Parameter, type Sublayer } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { KronaParallelFfn } from './parallel-ffn';

/** Config of KronA^B_res. Every field has a default. */
export const kronaResConfigSchema = z.strictObject({
  /** The FFN sublayers to run the adapter beside (role 'ffn' modules); default every block's. */
  targets: targetSelectorSchema.default({ roles: ['ffn'] }),
  /** Linears trained in full beside the method, typically the task head (`{ roles: ['head'] }`, HF's modules_to_save), as trainable copies. */
  modulesToSave: targetSelectorSchema.optional(),
  /** Rows a1 of the square factor A [a1, a1]; must divide the hidden size. Default the divisor nearest √hidden from below. */
  factor: z.number().int().min(1).optional(),
  /** The fixed scale s of the Kronecker term. */
  scale: z.number().finite().default(1),
});

/**
 * KronA^B_res as a peftjs method: wraps each block's FFN sublayer in a KronaParallelFfn,
 * FFN(x) + s·x·(A ⊗ B) + λ·x (Edalati et al. 2022). Not mergeable; removable.
 *
 * @example
 * const tuned = peft(model, [kronaRes({ scale: 2 })]);
 */
export const kronaResMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'krona-res',
  packageName: '@peftjs/lora',
  kind: 'additive',
  description: 'KronA^B_res: a Kronecker adapter with a learnable residual beside each FFN (Edalati et al. 2022); not mergeable.',
  configSchema: kronaResConfigSchema,
  apply(model, config, context): AppliedMethod {
    const { adapterName } = context;
    const hiddenSize = requireModelInfo(context, 'krona-res').hiddenSize;
    if (config.factor !== undefined && hiddenSize % config.factor !== 0) {
      throw new PeftError('invalid-config', `krona-res: factor ${config.factor} does not divide the hidden size ${hiddenSize}.`, { field: 'krona-res.factor', value: config.factor, allowed: `a divisor of ${hiddenSize}` });
    }
    const paths = resolveWrappableTargets(model, config.targets, { accept: (module) => module.role === 'ffn', method: 'krona-res', needs: "FFN sublayer (role 'ffn')", suggest: 'ffn' }).map(({ path }) => path);
    const options = { ...(config.factor !== undefined ? { factor: config.factor } : {}), scale: config.scale };
    const layers = paths.map((path) => ({ path, layer: model.replaceModule(path, (current) => new KronaParallelFfn(current as Sublayer, hiddenSize, options)) }));
    const copies = modulesToSavePart(model, config.modulesToSave, 'krona-res', adapterName);
    const keyed = (): Array<[string, Parameter]> => layers.flatMap(({ path, layer }) => layer.ownNamedParameters().map(([name, parameter]): [string, Parameter] => [`${path}.${name}`, parameter]));
    const residual: AppliedMethod = {
      name: 'krona-res',
      claims: layers.map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => keyed().map(([, parameter]) => parameter),
      setEnabled(enabled) {
        for (const { layer } of layers) layer.enabled = enabled;
      },
      state: () => stateOf(keyed()),
      load: (state) => loadParametersStrict('krona-res', keyed(), state),
      remove() {
        for (const { path, layer } of [...layers].reverse()) {
          model.replaceModule(path, () => layer.inner);
          for (const [, parameter] of layer.ownNamedParameters()) parameter.dispose();
        }
      },
    };
    return combineApplied('krona-res', [residual, copies]);
  },
});

/** `peft(model, [kronaRes()])` */
export const kronaRes = kronaResMethod;
