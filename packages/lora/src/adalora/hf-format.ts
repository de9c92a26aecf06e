import { GptModel, PeftError, tf, type HfAdapterFiles, type HfAdapterFormat, type Module, type Parameter } from '@peftjs/core';
import { HF_ALL_LINEAR, HF_LORA_KEY_PREFIX, hfTargetSelectionOf, hfTaskType, modulesToSaveForHf, modulesToSaveTensors, requireHfNames, type SavedModule } from '../lora/hf-format';
import type { adaloraConfigSchema, AdaloraConfig, AdaloraConfigInput } from './config';
import type { AdaLoraLinear } from './layer';

type AdaloraTargets = ReadonlyArray<{ path: string; layer: AdaLoraLinear }>;

/** GPT-2's block projections are HF Conv1D modules, stored [in, out] like ours. */
function isConv1d(model: Module<any, any>, path: string): boolean {
  return model instanceof GptModel && path.startsWith('decoder.');
}

/** Positions of the true entries: the ranks HF keeps when it resizes by rank_pattern. */
function keptIndices(keep: readonly boolean[]): number[] {
  return keep.flatMap((k, i) => (k ? [i] : []));
}

/**
 * HF's tensor names for a target. HF PEFT's AdaLoraLayer keeps lora_A, lora_E and lora_B as
 * nn.Parameters in nn.ParameterDicts (tuners/adalora/layer.py), so the model's keys are
 * `<module>.lora_A.default` and `get_peft_model_state_dict` writes `<module>.lora_A`: no `.weight`.
 */
export function adaloraHfKeys(hfName: string): { a: string; e: string; b: string } {
  const prefix = `${HF_LORA_KEY_PREFIX}${hfName}`;
  return { a: `${prefix}.lora_A`, e: `${prefix}.lora_E`, b: `${prefix}.lora_B` };
}

/**
 * AdaLoRA in HF PEFT's files (tuners/adalora/layer.py, model.py): per target
 * `base_model.model.<HF name>.lora_A` [r, in] (our A transposed), `.lora_E` [r, 1] and
 * `.lora_B` [out, r] (our B transposed). Once ranks are pruned, HF saves `rank_pattern`
 * (`<HF name>.lora_E` → kept flags, for every target: RankAllocator.mask_to_budget keys it by the
 * lora_E parameter name, and get_peft_model_state_dict removes the `.default`) and only the kept
 * ranks (resize_state_dict_by_rank_pattern); before that, rank_pattern is null and all init_r ranks
 * are written. `modules_to_save` tensors (our copies, and the classifier head of a SEQ_CLS model,
 * which HF always trains) are the module's own weight [out, in] and bias.
 */
export function exportAdaloraHf(
  model: Module<any, any>,
  config: AdaloraConfig,
  targets: AdaloraTargets,
  totalSteps: number | undefined,
  copies: readonly SavedModule[] = [],
): HfAdapterFiles {
  const named = requireHfNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  const rankPattern: Record<string, boolean[]> = {};
  const pruned = targets.some(({ layer }) => layer.rankMask.some((keep) => !keep));
  const saved = modulesToSaveForHf(model, copies);
  for (const { path, layer } of targets) {
    const hfName = named.hfModuleName(path);
    const kept = tf.tensor1d(pruned ? keptIndices(layer.rankMask) : [...Array(layer.r).keys()], 'int32');
    const keys = adaloraHfKeys(hfName);
    tensors[keys.a] = tf.tidy(() => tf.gather(tf.transpose(layer.loraA.value), kept));
    tensors[keys.e] = tf.tidy(() => tf.gather(layer.loraE.value, kept).reshape([-1, 1]));
    tensors[keys.b] = tf.tidy(() => tf.gather(tf.transpose(layer.loraB.value), kept, 1));
    kept.dispose();
    if (pruned) rankPattern[`${hfName}.lora_E`] = [...layer.rankMask];
  }
  Object.assign(tensors, modulesToSaveTensors(model, saved));
  // HF's AdaLoraConfig refuses total_step ≤ 0 or None and tinit ≥ total_step − tfinal; an adapter
  // exported before any training has no schedule length, so the shortest valid one is written.
  const totalStep = config.totalSteps ?? totalSteps ?? config.tinit + config.tfinal + 1;
  const targetSelection = hfTargetSelectionOf(named, targets.map(({ path }) => path));
  const hfConfig: Record<string, unknown> = {
    base_model_name_or_path: null,
    beta1: config.beta1,
    beta2: config.beta2,
    bias: 'none',
    deltaT: config.deltaT,
    fan_in_fan_out: targets.some(({ path }) => isConv1d(model, path)),
    inference_mode: true,
    init_lora_weights: true,
    init_r: config.initR,
    layers_pattern: null,
    layers_to_transform: targetSelection.layersToTransform,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    modules_to_save: saved.length ? saved.map(({ path }) => named.hfModuleName(path)).sort() : null,
    orth_reg_weight: config.orthRegWeight,
    peft_type: 'ADALORA',
    rank_pattern: pruned ? rankPattern : null,
    revision: null,
    target_modules: targetSelection.targetModules,
    target_r: config.targetR,
    task_type: hfTaskType(model),
    tfinal: config.tfinal,
    tinit: config.tinit,
    total_step: totalStep,
  };
  return { config: Object.fromEntries(Object.entries(hfConfig).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), tensors };
}

/** A target's kept flags in `rankPattern` (keys `<HF name>.lora_E` or the HF name), if listed. */
function patternOf(config: AdaloraConfig, hfName: string): boolean[] | undefined {
  return config.rankPattern?.[`${hfName}.lora_E`] ?? config.rankPattern?.[hfName];
}

/**
 * Loads HF-keyed AdaLoRA tensors. Where `rankPattern` lists a target, the file holds only its kept
 * ranks: they go to the flagged positions and the others stay pruned (E = 0; HF keeps the original
 * ranknum, so the scaling stays alpha / init_r). Any missing, unexpected or mis-shaped key is a
 * 'checkpoint-mismatch' error and loads nothing.
 */
export function loadAdaloraHf(model: Module<any, any>, config: AdaloraConfig, targets: AdaloraTargets, tensors: Record<string, tf.Tensor>, copies: readonly SavedModule[] = []): void {
  const named = requireHfNames(model);
  const writes: Array<{ parameter: Parameter; value: () => tf.Tensor }> = [];
  const problems: string[] = [];
  const used = new Set<string>();
  const take = (key: string, shape: number[]): tf.Tensor | undefined => {
    used.add(key);
    const tensor = tensors[key];
    if (!tensor) problems.push(`missing ${key}`);
    else if (!tf.util.arraysEqual(tensor.shape, shape)) problems.push(`${key} has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}]`);
    else return tensor;
    return undefined;
  };
  for (const { path, layer } of targets) {
    const hfName = named.hfModuleName(path);
    const keep = patternOf(config, hfName);
    if (keep && keep.length !== layer.r) problems.push(`rank_pattern of ${hfName} has ${keep.length} flags, expected init_r = ${layer.r}`);
    const positions = keep && keep.length === layer.r ? keptIndices(keep) : [...Array(layer.r).keys()];
    const rank = positions.length;
    const keys = adaloraHfKeys(hfName);
    const a = take(keys.a, [rank, layer.inFeatures]);
    const e = take(keys.e, [rank, 1]);
    const b = take(keys.b, [layer.outFeatures, rank]);
    if (!a || !e || !b) continue;
    // The kept ranks go back to their positions; the dropped ones get zeros.
    const scatter = (rows: tf.Tensor, width: number) => tf.scatterND(tf.tensor2d(positions, [rank, 1], 'int32'), rows, [layer.r, width]);
    writes.push({ parameter: layer.loraA, value: () => tf.transpose(scatter(a, layer.inFeatures)) });
    writes.push({ parameter: layer.loraE, value: () => scatter(e, 1).reshape([layer.r]) });
    writes.push({ parameter: layer.loraB, value: () => scatter(tf.transpose(b), layer.outFeatures) });
  }
  // modules_to_save: the module's own weight [out, in] (as stored for GPT-2's Conv1D: [in, out]) and bias.
  for (const { path, layer } of copies) {
    for (const [name, parameter] of layer.ownNamedParameters()) {
      const transposed = name === 'weight' && !isConv1d(model, path);
      const tensor = take(`${HF_LORA_KEY_PREFIX}${named.hfModuleName(path)}.${name}`, transposed ? [...parameter.shape].reverse() : [...parameter.shape]);
      if (tensor) writes.push({ parameter, value: () => (transposed ? tf.transpose(tensor) : tensor) });
    }
  }
  problems.push(...Object.keys(tensors).filter((key) => !used.has(key)).map((key) => `unexpected ${key}`));
  if (problems.length) {
    throw new PeftError('checkpoint-mismatch', `The HF PEFT AdaLoRA tensors do not fit the model: ${problems.slice(0, 8).join('; ')}.`, {
      field: 'tensors',
      value: problems,
      allowed: 'lora_A [r, in], lora_E [r, 1], lora_B [out, r] per target (no .weight), r the kept ranks of rank_pattern (else init_r), and weight/bias of each modules_to_save module',
    });
  }
  for (const { parameter, value } of writes) tf.tidy(() => parameter.assign(value()));
}

/** Reads HF PEFT's AdaLoRA `adapter_config.json`; what we cannot reproduce is an error, not ignored. */
export function adaloraConfigFromHf(hf: Record<string, unknown>): AdaloraConfigInput {
  const reject = (field: string, allowed: string): never => {
    throw new PeftError('not-implemented', `This HF PEFT AdaLoRA adapter sets ${field} = ${JSON.stringify(hf[field])}, which @peftjs/lora does not support yet.`, { field, value: hf[field], allowed });
  };
  if (hf.peft_type !== 'ADALORA') reject('peft_type', 'ADALORA');
  if (hf.bias !== undefined && hf.bias !== 'none') reject('bias', 'none');
  const layersToTransform = hf.layers_to_transform;
  const isIndex = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 0;
  const hasLayers = layersToTransform !== undefined && layersToTransform !== null && !(Array.isArray(layersToTransform) && layersToTransform.length === 0);
  if (hasLayers && !isIndex(layersToTransform) && !(Array.isArray(layersToTransform) && layersToTransform.every(isIndex))) reject('layers_to_transform', 'null, a layer index or a list of layer indices');
  const layersPattern = hf.layers_pattern;
  const hasPattern = typeof layersPattern === 'string' ? layersPattern !== '' : Array.isArray(layersPattern) && layersPattern.length > 0;
  if (hasPattern && typeof layersPattern !== 'string' && !(layersPattern as unknown[]).every((name) => typeof name === 'string')) reject('layers_pattern', 'null, a name or a list of names');
  const pick = (hfKey: string, ours: string): Record<string, unknown> => (hf[hfKey] === undefined || hf[hfKey] === null ? {} : { [ours]: hf[hfKey] });
  const targetModules = hf.target_modules;
  const modulesToSave = hf.modules_to_save;
  const hasModulesToSave = Array.isArray(modulesToSave) && modulesToSave.length > 0;
  if (modulesToSave !== undefined && modulesToSave !== null && !(Array.isArray(modulesToSave) && modulesToSave.every((name) => typeof name === 'string'))) reject('modules_to_save', 'null or a list of module names');
  return {
    ...pick('init_r', 'initR'),
    ...pick('target_r', 'targetR'),
    ...pick('lora_alpha', 'alpha'),
    ...pick('lora_dropout', 'dropout'),
    ...pick('tinit', 'tinit'),
    ...pick('tfinal', 'tfinal'),
    ...pick('deltaT', 'deltaT'),
    ...pick('beta1', 'beta1'),
    ...pick('beta2', 'beta2'),
    ...pick('orth_reg_weight', 'orthRegWeight'),
    ...pick('total_step', 'totalSteps'),
    ...(isRecord(hf.rank_pattern) ? { rankPattern: Object.fromEntries(Object.entries(hf.rank_pattern).map(([key, flags]) => [key.replace(/\.default$/, ''), flags])) } : {}),
    ...(hasModulesToSave ? { hfModulesToSave: modulesToSave } : {}),
    ...(hasLayers ? { layersToTransform } : {}),
    ...(hasPattern ? { layersPattern } : {}),
    ...(targetModules === HF_ALL_LINEAR ? { targets: { roles: [HF_ALL_LINEAR] } } : targetModules !== undefined && targetModules !== null ? { hfTargetModules: targetModules } : {}),
  } as AdaloraConfigInput;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `hf` hook of the AdaLoRA definition. */
export const adaloraHfFormat: HfAdapterFormat<typeof adaloraConfigSchema> = {
  peftType: 'ADALORA',
  configFromHf: adaloraConfigFromHf,
};
