import { Linear, PeftError, definePeftMethod, resolveTargets, type AppliedMethod, type Module, type Parameter, type tf } from '@peftjs/core';
import { loraConfigSchema, matchPattern, type LoraConfig } from './config';
import { exportLoraHf, hfNameOrUndefined, loadLoraHf, loraHfFormat, matchesHfTargetModules, type CopyTarget, type LoraTarget } from './hf-format';
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
  apply(model, config): AppliedMethod {
    const targets: LoraTarget[] = selectTargets(model, config).map(({ path, hfName }) => {
      const names = hfName === undefined ? [path] : [path, hfName];
      const r = matchPattern(config.rankPattern, names) ?? config.r;
      const alpha = matchPattern(config.alphaPattern, names) ?? config.alpha;
      const layer = model.replaceModule(path, (current) => new LoraLinear(current as LinearLike, { r, alpha, useRslora: config.useRslora, dropout: config.dropout, init: config.init }));
      return { path, layer };
    });
    const copies: CopyTarget[] = selectModulesToSave(model, config).map((path) => ({
      path,
      layer: model.replaceModule(path, (current) => new TrainableCopyLinear(current as Linear)),
    }));
    const layers = [...targets, ...copies].map(({ layer }) => layer);
    const keyed = (): Array<[string, Parameter]> => [
      ...targets.flatMap(({ path, layer }): Array<[string, Parameter]> => [[`${path}.loraA`, layer.loraA], [`${path}.loraB`, layer.loraB]]),
      ...copies.flatMap(({ path, layer }) => layer.ownNamedParameters().map(([name, parameter]): [string, Parameter] => [`${path}.${name}`, parameter])),
    ];
    return {
      name: 'lora',
      claims: [...targets, ...copies].map(({ path }) => ({ kind: 'wrap' as const, path })),
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
      remove() {
        for (const { path, layer } of [...targets, ...copies].reverse()) {
          layer.unmerge();
          model.replaceModule(path, () => layer.base);
          for (const [, parameter] of layer.ownNamedParameters()) parameter.dispose();
        }
      },
      exportHf: () => exportLoraHf(model, config, targets, copies),
      loadHf: (tensors) => loadLoraHf(model, targets, copies, tensors),
    };
  },
});

/** `peft(model, [lora({ r: 8 })])` */
export const lora = loraMethod;

function isLinearLike(module: Module<any, any>): module is LinearLike {
  const candidate = module as unknown as Partial<LinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}

/** The modules to wrap: from `hfTargetModules` (HF names) when set, else the `targets` selector; Linear-like only. */
function selectTargets(model: Module<any, any>, config: LoraConfig): Array<{ path: string; hfName: string | undefined }> {
  if (config.hfTargetModules !== undefined) {
    const wanted = config.hfTargetModules;
    const found: Array<{ path: string; hfName: string | undefined }> = [];
    for (const [path, module] of model.namedModules()) {
      if (path === '' || !isLinearLike(module) || found.some((match) => path.startsWith(`${match.path}.`))) continue;
      const hfName = hfNameOrUndefined(model, path);
      if (hfName !== undefined && matchesHfTargetModules(wanted, hfName)) found.push({ path, hfName });
    }
    if (found.length === 0) {
      throw new PeftError('selector-no-match', `lora: hfTargetModules ${JSON.stringify(wanted)} matched no linear module's HF name.`, {
        field: 'hfTargetModules',
        value: wanted,
        allowed: model.namedModules().flatMap(([path, module]) => (path !== '' && isLinearLike(module) ? [hfNameOrUndefined(model, path) ?? []].flat() : [])),
      });
    }
    return found;
  }
  const matched = resolveTargets(model, config.targets, { kind: 'module' }).filter(({ module }) => isLinearLike(module));
  if (matched.length === 0) {
    throw new PeftError('selector-no-match', 'lora: the targets matched no Linear module (LoRA wraps linears; use roles such as attention.query or all-linear).', {
      field: 'targets',
      value: config.targets,
      allowed: 'a selector matching Linear modules',
    });
  }
  return matched.map(({ path }) => ({ path, hfName: hfNameOrUndefined(model, path) }));
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
