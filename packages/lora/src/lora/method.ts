import { Embedding, Linear, PeftError, definePeftMethod, resolveTargets, resolveWrappableTargets, type AppliedMethod, type Module, type Parameter, type tf } from '@peftjs/core';
import { loraConfigSchema, matchPattern, type LoraConfig } from './config';
import { exportLoraHf, hfNameOrUndefined, inTransformedLayers, loadLoraHf, loraHfFormat, matchesHfTargetModules, selectedByHfTargets, type CopyTarget, type LoraTarget } from './hf-format';
import { LoraEmbedding } from './embedding-layer';
import { LoraLinear, type LinearLike } from './layer';
import { TrainableCopyLinear } from './trainable-copy-linear';

const PACKAGE_NAME = '@peftjs/lora';

/**
 * LoRA as a peftjs method: wraps each target Linear in a LoraLinear (Hu et al., "LoRA: Low-Rank
 * Adaptation of Large Language Models", 2022). Mergeable, removable, and it reads and writes HF
 * PEFT's LoRA files (`save(dir, { format: 'hf' })`, `loadPeft`).
 *
 * @example
 * const tuned = peft(model, [lora({ r: 8, alpha: 16, targets: { roles: ['all-linear'] } })]);
 */
export const loraMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'lora',
  packageName: PACKAGE_NAME,
  kind: 'reparametrization',
  description: 'Low-rank updates s·B·A of chosen linears (Hu et al. 2022); mergeable, HF PEFT files.',
  configSchema: loraConfigSchema,
  hf: loraHfFormat,
  apply(model, config): LoraAppliedMethod {
    const selected = selectTargets(model, config);
    const modulesToSave = selectModulesToSave(model, config);
    const targets: LoraTarget[] = [];
    const copies: CopyTarget[] = [];
    const wrapped = () => [...targets, ...copies];
    try {
      for (const { path, hfName } of selected) {
        const names = hfName === undefined ? [path] : [path, hfName];
        const options = { r: matchPattern(config.rankPattern, names) ?? config.r, alpha: matchPattern(config.alphaPattern, names) ?? config.alpha, useRslora: config.useRslora };
        const layer = model.replaceModule(path, (current): LoraLinear | LoraEmbedding => {
          if (!(current instanceof Embedding)) return new LoraLinear(current as LinearLike, { ...options, dropout: config.dropout, init: config.init, useDora: config.useDora });
          if (config.useDora) throw new PeftError('not-implemented', `DoRA on embeddings is not implemented (target ${path}).`, { field: 'useDora', value: true, allowed: 'Linear targets with useDora' });
          return new LoraEmbedding(current, options);
        });
        targets.push({ path, layer });
      }
      for (const path of modulesToSave) copies.push({ path, layer: model.replaceModule(path, (current) => new TrainableCopyLinear(current as Linear)) });
    } catch (error) {
      // Put back what was wrapped before the failure, so a rejected config leaves the model as it was.
      unwrap(model, wrapped());
      throw error;
    }
    const layers = wrapped().map(({ layer }) => layer);
    const keyed = (): Array<[string, Parameter]> =>
      wrapped().flatMap(({ path, layer }) => layer.ownNamedParameters().map(([name, parameter]): [string, Parameter] => [`${path}.${name}`, parameter]));
    return {
      name: 'lora',
      loraTargets: () => [...targets],
      claims: wrapped().map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => keyed().map(([, parameter]) => parameter),
      merge: () => layers.forEach((layer) => layer.merge()),
      unmerge: () => [...layers].reverse().forEach((layer) => layer.unmerge()),
      setEnabled: (enabled) => layers.forEach((layer) => (layer.enabled = enabled)),
      state: () => Object.fromEntries(keyed().map(([key, parameter]) => [key, parameter.value as tf.Tensor])),
      load(state) {
        const expected = new Map(keyed());
        const missing = [...expected.keys()].filter((key) => !(key in state));
        const unexpected = Object.keys(state).filter((key) => !expected.has(key));
        const wrongShape = [...expected].filter(([key, parameter]) => key in state && !sameShape(state[key]!.shape, parameter.shape));
        if (missing.length || unexpected.length || wrongShape.length) {
          throw new PeftError(
            'checkpoint-mismatch',
            `lora: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}], wrong shapes [${wrongShape.map(([key, p]) => `${key}: [${state[key]!.shape.join(', ')}] vs [${p.shape.join(', ')}]`).join(', ')}].`,
            { field: 'state', value: Object.keys(state), allowed: [...expected].map(([key, p]) => `${key} [${p.shape.join(', ')}]`) },
          );
        }
        for (const [key, parameter] of expected) parameter.assign(state[key]!);
      },
      remove: () => unwrap(model, wrapped()),
      exportHf: () => exportLoraHf(model, config, targets, copies),
      loadHf: (tensors) => loadLoraHf(model, targets, copies, tensors),
    };
  },
});

/** LoRA's applied form: the AppliedMethod plus its wrapped targets (for adapter arithmetic such as addWeightedAdapter). */
export interface LoraAppliedMethod extends AppliedMethod {
  /** The LoRA layers by model path, in model order (modulesToSave copies excluded). */
  loraTargets(): readonly LoraTarget[];
}

/** `peft(model, [lora({ r: 8 })])` */
export const lora = loraMethod;

/** Unmerges and replaces each wrapper by the module it holds (last first), disposing the wrapper's parameters. */
function unwrap(model: Module<any, any>, wrapped: ReadonlyArray<LoraTarget | CopyTarget>): void {
  for (const { path, layer } of [...wrapped].reverse()) {
    layer.unmerge();
    model.replaceModule(path, () => layer.base);
    for (const [, parameter] of layer.ownNamedParameters()) parameter.dispose();
  }
}

function isLinearLike(module: Module<any, any>): module is LinearLike {
  const candidate = module as unknown as Partial<LinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}

/** What LoRA can wrap: linears (and wrappers that keep their sizes) and embedding tables. */
function isTargetable(module: Module<any, any>): boolean {
  return isLinearLike(module) || module instanceof Embedding;
}

/** The modules to wrap: from `hfTargetModules` (HF names) when set, else the `targets` selector; linears and embeddings only. */
function selectTargets(model: Module<any, any>, config: LoraConfig): Array<{ path: string; hfName: string | undefined }> {
  if (config.hfTargetModules !== undefined) {
    const wanted = config.hfTargetModules;
    const found: Array<{ path: string; hfName: string | undefined }> = [];
    for (const [path, module] of model.namedModules()) {
      if (path === '' || !isTargetable(module) || found.some((match) => path.startsWith(`${match.path}.`))) continue;
      const hfName = hfNameOrUndefined(model, path);
      if (hfName !== undefined && selectedByHfTargets(wanted, config, hfName)) found.push({ path, hfName });
    }
    if (found.length === 0) {
      throw new PeftError('selector-no-match', `lora: hfTargetModules ${JSON.stringify(wanted)} matched no linear module's HF name.`, {
        field: 'hfTargetModules',
        value: wanted,
        allowed: model.namedModules().flatMap(([path, module]) => {
          const hfName = path !== '' && isTargetable(module) ? hfNameOrUndefined(model, path) : undefined;
          return hfName === undefined ? [] : [hfName];
        }),
      });
    }
    return found;
  }
  const matched = resolveWrappableTargets(model, config.targets, {
    accept: isTargetable,
    method: 'lora',
    needs: 'Linear or Embedding module',
    suggest: 'attention.query, all-linear or embedding.token',
  });
  const selected = matched.map(({ path }) => ({ path, hfName: hfNameOrUndefined(model, path) })).filter(({ path, hfName }) => inTransformedLayers(config, hfName ?? path));
  if (selected.length === 0) {
    throw new PeftError('selector-no-match', `lora: layersToTransform ${JSON.stringify(config.layersToTransform)} keeps none of the ${matched.length} targets.`, { field: 'layersToTransform', value: config.layersToTransform, allowed: 'layer indices of the targets' });
  }
  return selected;
}

/**
 * The Linears to train in full: below each match of `modulesToSave` (a head container selects its
 * projection), or those whose HF name matches `hfModulesToSave` (no match is fine, as in HF).
 */
function selectModulesToSave(model: Module<any, any>, config: LoraConfig): string[] {
  if (config.hfModulesToSave !== undefined) {
    const wanted = config.hfModulesToSave;
    return model.namedModules().flatMap(([path, module]) => {
      const hfName = module instanceof Linear && path !== '' ? hfNameOrUndefined(model, path) : undefined;
      return hfName !== undefined && matchesHfTargetModules(wanted, hfName) ? [path] : [];
    });
  }
  if (config.modulesToSave === undefined) return [];
  const paths = resolveTargets(model, config.modulesToSave, { kind: 'module', field: 'modulesToSave' }).flatMap(({ path, module }) =>
    module.namedModules(path).flatMap(([inner, child]) => (child instanceof Linear ? [inner] : [])),
  );
  if (paths.length === 0) {
    throw new PeftError('selector-no-match', 'lora: modulesToSave matched no Linear module that is not already wrapped (use e.g. { roles: ["head"] }).', {
      field: 'modulesToSave',
      value: config.modulesToSave,
      allowed: 'a selector matching Linear modules, such as the task head',
    });
  }
  return paths;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dimension, i) => dimension === b[i]);
}
