import { Linear, PeftError, attachAdapters, combineApplied, definePeftMethod, fromWrappers, headParameters, isLinearLike, resolveTargets, resolveWrappableTargets, type AppliedMethod, type Module } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { ia3ConfigSchema, type Ia3Config } from './config';
import { exportIa3Hf, hfNameOf, ia3ConfigFromHf, loadIa3Hf, matchesHfModules, matchesModulesToSave, requireHfNames, type SavedHeadParameter } from './hf-format';
import { Ia3Linear } from './layer';

const accept = (module: Module<any, any>) => module instanceof Linear || (isLinearLike(module) && !(module instanceof Linear));

/** The target paths and which of them scale their input: from HF module names when given, else from the selectors. */
function selectTargets(model: Module<any, any>, config: Ia3Config): { paths: string[]; feedforward: Set<string> } {
  if (config.hfTargetModules !== undefined) {
    const named = requireHfNames(model, 'hfTargetModules');
    const saved = config.hfModulesToSave ?? [];
    const candidates = model.namedModules().flatMap(([path, module]) => {
      if (path === '' || !isLinearLike(module)) return [];
      const hfName = hfNameOf(named, path);
      return hfName === undefined || matchesModulesToSave(saved, hfName) ? [] : [{ path, hfName }];
    });
    const matched = candidates.filter(({ hfName }) => matchesHfModules(config.hfTargetModules!, hfName));
    if (matched.length === 0) {
      throw new PeftError('selector-no-match', `ia3: hfTargetModules ${JSON.stringify(config.hfTargetModules)} matched no linear module's HF name.`, { field: 'hfTargetModules', value: config.hfTargetModules, allowed: candidates.map(({ hfName }) => hfName) });
    }
    const ff = config.hfFeedforwardModules ?? [];
    const feedforward = matched.filter(({ hfName }) => (typeof ff === 'string' || ff.length > 0) && matchesHfModules(ff, hfName));
    return { paths: matched.map(({ path }) => path), feedforward: new Set(feedforward.map(({ path }) => path)) };
  }
  const paths = resolveWrappableTargets(model, config.targets, { accept, method: 'ia3', needs: 'Linear', suggest: 'attention.key, attention.value, attention.qkv, ffn.down' }).map((target) => target.path);
  const feedforward = new Set(resolveTargets(model, config.feedforward, { kind: 'module', field: 'feedforward', allowEmpty: true }).map((target) => target.path));
  return { paths, feedforward: new Set(paths.filter((path) => feedforward.has(path))) };
}

/** The head selector: `modulesToSave`, or the modules HF's `modules_to_save` names. */
function headSelector(model: Module<any, any>, config: Ia3Config): Ia3Config['modulesToSave'] {
  if (config.modulesToSave !== undefined) return config.modulesToSave;
  if (config.hfModulesToSave === undefined) return undefined;
  const named = requireHfNames(model, 'hfModulesToSave');
  const paths = model.namedModules().flatMap(([path, module]) => {
    if (path === '' || !(module instanceof Linear)) return [];
    const hfName = hfNameOf(named, path);
    return hfName !== undefined && matchesModulesToSave(config.hfModulesToSave!, hfName) ? [path] : [];
  });
  // HF skips names that match nothing (it lists both `classifier` and `score` for every SEQ_CLS model).
  return paths.length ? { paths } : undefined;
}

/**
 * (IA)3: a vector per target linear rescaling its output (keys, values) or its input (the FFN
 * intermediate activation), initialised to ones (Liu et al. 2022, §3.3). Mergeable; reads and
 * writes HF PEFT's IA3 files.
 */
export const ia3 = definePeftMethod({
  specificationVersion: 'v1',
  name: 'ia3',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: '(IA)3: learned vectors rescaling keys, values and the FFN intermediate activation; mergeable (Liu et al., 2022).',
  configSchema: ia3ConfigSchema,
  hf: { peftType: 'IA3', configFromHf: ia3ConfigFromHf },
  apply(model, config, { adapterName }): AppliedMethod {
    const { paths, feedforward } = selectTargets(model, config);
    const targets = attachAdapters(model, paths, {
      adapterName,
      methodName: 'ia3',
      wrapperType: Ia3Linear,
      create: (current) => new Ia3Linear(current),
      options: (path) => ({ feedforward: feedforward.has(path), initOnes: config.initIa3Weights }),
    });
    const wrappers = fromWrappers('ia3', model, targets, adapterName);
    let saved: AppliedMethod | undefined;
    try {
      saved = modulesToSavePart(model, headSelector(model, config), 'ia3', true);
    } catch (error) {
      wrappers.remove?.();
      throw error;
    }
    const head = (): SavedHeadParameter[] => (saved ? Object.keys(saved.state()).map((path) => ({ path, parameter: model.getParameter(path) })) : []);
    // HF PEFT's SEQ_CLS/TOKEN_CLS models always train and load the classifier; without a trained
    // head the file carries the frozen one, so Python rebuilds the same model.
    const exportedHead = (): SavedHeadParameter[] => {
      const trained = head();
      const task = (model as { task?: string }).task;
      if (trained.length > 0 || (task !== 'sequence-classification' && task !== 'regression' && task !== 'token-classification')) return trained;
      return headParameters(model).map(({ path, parameter }) => ({ path, parameter }));
    };
    const applied = saved ? combineApplied('ia3', [wrappers, saved]) : wrappers;
    return {
      ...applied,
      exportHf: () => exportIa3Hf(model, targets, adapterName, exportedHead()),
      loadHf: (tensors) => loadIa3Hf(model, targets, adapterName, head(), tensors),
    };
  },
});
