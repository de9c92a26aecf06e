import { Embedding, Linear, PeftError, attachAdapters, definePeftMethod, detachAdapters, findWrapper, fromWrappers, isLinearLike, resolveTargets, resolveWrappableTargets, type AppliedMethod, type Module, type WrapperTarget } from '@peftjs/core';
import { loraConfigSchema, matchPattern, type LoraConfig } from './config';
import { exportLoraHf, hfNameOrUndefined, inTransformedLayers, loadLoraHf, loraHfFormat, matchesHfTargetModules, selectedByHfTargets, type CopyTarget, type LoraTarget } from './hf-format';
import { LoraEmbedding, loraEmbeddingOptions } from './embedding-layer';
import { LoraLinear, loraOptions } from './layer';
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
  apply(model, config, { adapterName }): LoraAppliedMethod {
    const selected = selectTargets(model, config);
    const optionsAt = (path: string) => {
      const hfName = selected.find((target) => target.path === path)?.hfName;
      const names = hfName === undefined ? [path] : [path, hfName];
      return { r: matchPattern(config.rankPattern, names) ?? config.r, alpha: matchPattern(config.alphaPattern, names) ?? config.alpha, useRslora: config.useRslora };
    };
    const targets = attachAdapters<LoraLinear | LoraEmbedding, any>(model, selected.map(({ path }) => path), {
      adapterName,
      methodName: 'lora',
      wrapperType: LoraWrapper,
      create(current, path): LoraLinear | LoraEmbedding {
        if (!(current instanceof Embedding || findWrapper(current, LoraEmbedding))) return new LoraLinear(current);
        if (config.useDora) throw new PeftError('not-implemented', `DoRA on embeddings is not implemented (target ${path}).`, { field: 'useDora', value: true, allowed: 'Linear targets with useDora' });
        return new LoraEmbedding(current as Embedding);
      },
      options: (path, wrapper) => (wrapper instanceof LoraEmbedding ? loraEmbeddingOptions(optionsAt(path)) : loraOptions({ ...optionsAt(path), dropout: config.dropout, init: config.init, useDora: config.useDora })),
    });
    let copies: Array<WrapperTarget<TrainableCopyLinear>> = [];
    try {
      copies = attachAdapters(model, selectModulesToSave(model, config), { adapterName, methodName: 'lora', wrapperType: TrainableCopyLinear, create: (current) => new TrainableCopyLinear(current), options: () => ({}) });
    } catch (error) {
      detachAdapters(model, targets, adapterName);
      throw error;
    }
    const loraTargets = (): LoraTarget[] => targets.map(({ path, wrapper }) => ({ path, layer: (wrapper as LoraLinear | LoraEmbedding).forAdapter(adapterName) }));
    const copyTargets = (): CopyTarget[] => copies.map(({ path, wrapper }) => ({ path, layer: wrapper.forAdapter(adapterName) }));
    return {
      ...fromWrappers('lora', model, [...targets, ...copies], adapterName),
      loraTargets,
      exportHf: () => exportLoraHf(model, config, loraTargets(), copyTargets()),
      loadHf: (tensors) => loadLoraHf(model, loraTargets(), copyTargets(), tensors),
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

/** The wrapper classes LoRA puts its adapters in (linears and embedding tables). */
const LoraWrapper: ReadonlyArray<abstract new (...args: any[]) => LoraLinear | LoraEmbedding> = [LoraLinear, LoraEmbedding];

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
