import { GptModel, Linear, PeftError, tf, type HfAdapterFiles, type HfAdapterFormat, type Module, type Parameter, type TaskType } from '@peftjs/core';
import type { loraConfigSchema} from './config';
import { type LoraConfig, type LoraConfigInput } from './config';
import type { LoraEmbedding } from './embedding-layer';
import type { LoraLinear } from './layer';
import type { TrainableCopyLinear } from './trainable-copy-linear';

/** HF PEFT prefixes every adapter key with the PeftModel's `base_model` (LoraModel) and its `model`. */
export const HF_LORA_KEY_PREFIX = 'base_model.model.';

/** One wrapped module: our path and its LoRA wrapper. */
export interface LoraTarget {
  path: string;
  layer: LoraLinear | LoraEmbedding;
}

/**
 * HF's tensor names for a wrapper: `lora_A.weight`/`lora_B.weight` for linears (nn.Linear modules),
 * `lora_embedding_A`/`lora_embedding_B` for embeddings (plain parameters, so no `.weight`).
 */
function hfLoraKeys(prefix: string, layer: LoraLinear | LoraEmbedding): { a: string; b: string } {
  return 'count' in layer ? { a: `${prefix}.lora_embedding_A`, b: `${prefix}.lora_embedding_B` } : { a: `${prefix}.lora_A.weight`, b: `${prefix}.lora_B.weight` };
}

/** [in, out] of a wrapper: (vocab, dim) for embeddings. */
function featureSizes(layer: LoraLinear | LoraEmbedding): [number, number] {
  return 'count' in layer ? [layer.count, layer.dim] : [layer.inFeatures, layer.outFeatures];
}

/** A Linear trained in full (HF's modules_to_save): our path and its wrapper. */
export interface CopyTarget {
  path: string;
  layer: TrainableCopyLinear;
}

/** HF PEFT's `TaskType` for our tasks (HF has none for masked LM). */
const HF_TASK_TYPES: Readonly<Record<TaskType, string | null>> = {
  'sequence-classification': 'SEQ_CLS',
  regression: 'SEQ_CLS',
  'token-classification': 'TOKEN_CLS',
  'causal-lm': 'CAUSAL_LM',
  'masked-lm': null,
};

type HfNamedModel = Module<any, any> & { hfModuleName(path: string): string; task?: TaskType };

/** HF PEFT's `task_type` for the model's task, or null (no task, or masked LM). */
export function hfTaskType(model: Module<any, any>): string | null {
  const task = (model as unknown as Partial<HfNamedModel>).task;
  return task === undefined ? null : HF_TASK_TYPES[task];
}

/**
 * The heads HF PEFT's PeftModelForSequenceClassification and PeftModelForTokenClassification add to
 * `modules_to_save` on their own (`classifier_module_names`, peft_model.py): they always train them,
 * and their loaders require the head's tensors in the adapter file.
 */
export const HF_CLASSIFIER_MODULE_NAMES = ['classifier', 'score'] as const;

/** A module whose own parameters are written as `modules_to_save` tensors. */
export interface SavedModule {
  path: string;
  layer: Module<any, any>;
}

/**
 * What an HF export writes as `modules_to_save`: the method's trainable copies, plus, for a
 * SEQ_CLS or TOKEN_CLS model whose classifier head is not among them, the head as it stands (HF
 * PEFT trains it for these tasks and `PeftModel.from_pretrained` fails without its tensors; writing
 * the current head also makes Python's logits equal ours). A classification model without an
 * HF-named classifier head is refused before anything is written.
 */
export function modulesToSaveForHf(model: Module<any, any>, copies: readonly SavedModule[]): SavedModule[] {
  const taskType = hfTaskType(model);
  if (taskType !== 'SEQ_CLS' && taskType !== 'TOKEN_CLS') return [...copies];
  const isClassifier = (path: string) => {
    const hfName = hfNameOrUndefined(model, path);
    return hfName !== undefined && matchesHfTargetModules(HF_CLASSIFIER_MODULE_NAMES, hfName);
  };
  if (copies.some(({ path }) => isClassifier(path))) return [...copies];
  const heads = model.namedModules().filter(([path, module]) => path !== '' && module instanceof Linear && isClassifier(path));
  if (heads.length === 0) {
    throw new PeftError('not-implemented', `An HF PEFT ${taskType} adapter must carry the classifier head (HF's loader requires it), and this ${model.constructor.name} has no Linear named ${HF_CLASSIFIER_MODULE_NAMES.join(' or ')}.`, {
      field: 'modulesToSave',
      value: copies.map(({ path }) => path),
      allowed: `a ${taskType} model with an HF-named classifier head`,
    });
  }
  return [...copies, ...heads.map(([path, layer]) => ({ path, layer }))];
}

function hasHfNames(model: Module<any, any>): model is HfNamedModel {
  return typeof (model as unknown as Partial<HfNamedModel>).hfModuleName === 'function';
}

/** The model's HF module name function, or a 'not-implemented' error for models without HF names. */
export function requireHfNames(model: Module<any, any>): HfNamedModel {
  if (!hasHfNames(model)) {
    throw new PeftError('not-implemented', `LoRA's HF PEFT format needs a model with hfModuleName(path) (the reference BERT and GPT-2 models); got a ${model.constructor.name}.`, {
      field: 'model',
      value: model.constructor.name,
      allowed: 'a model with hfModuleName()',
    });
  }
  return model;
}

/** The HF module name of a path, or undefined where HF has no such module. */
export function hfNameOrUndefined(model: Module<any, any>, path: string): string | undefined {
  if (!hasHfNames(model)) return undefined;
  try {
    return model.hfModuleName(path);
  } catch (error) {
    if (PeftError.isInstance(error)) return undefined;
    throw error;
  }
}

/**
 * Whether an HF module name is selected by HF PEFT's `target_modules` (`check_target_module_exists`):
 * a string is a regular expression that must match the whole name; a list entry matches the name
 * itself or its last dot-separated components.
 */
export function matchesHfTargetModules(targetModules: string | readonly string[], hfName: string): boolean {
  if (typeof targetModules === 'string') return new RegExp(`^(?:${targetModules})$`).test(hfName);
  return targetModules.some((target) => hfName === target || hfName.endsWith(`.${target}`));
}

/** HF PEFT's layer selection: `layers_to_transform` (an index or a list) and `layers_pattern`. */
export interface HfLayerSelection {
  layersToTransform?: number | readonly number[] | undefined;
  layersPattern?: string | readonly string[] | undefined;
}

/**
 * The layer index HF PEFT reads from a module name (`check_target_module_exists`, tuners_utils.py):
 * the number after the first `<pattern>.` (any segment when no pattern is given), e.g. 1 in
 * `bert.encoder.layer.1.attention.self.query` or `transformer.h.1.attn.c_attn`; undefined if none.
 */
export function hfLayerIndex(name: string, layersPattern?: string | readonly string[]): number | undefined {
  const patterns = layersPattern === undefined || layersPattern.length === 0 ? [] : typeof layersPattern === 'string' ? [layersPattern] : layersPattern;
  const regexes = patterns.length === 0 ? [/^.*?\.[^.]*\.(\d+)\./] : patterns.map((pattern) => new RegExp(`^.*?\\.${pattern}\\.(\\d+)\\.`));
  for (const regex of regexes) {
    const match = regex.exec(name);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** Whether a name lies in the layers HF's `layers_to_transform` keeps (every name when it is unset). */
export function inTransformedLayers(selection: HfLayerSelection, name: string): boolean {
  const { layersToTransform } = selection;
  if (layersToTransform === undefined || (typeof layersToTransform !== 'number' && layersToTransform.length === 0)) return true;
  const index = hfLayerIndex(name, selection.layersPattern);
  if (index === undefined) return false;
  return typeof layersToTransform === 'number' ? index === layersToTransform : layersToTransform.includes(index);
}

/**
 * HF PEFT's `check_target_module_exists` for a list or a regular expression of `target_modules`,
 * with `layers_to_transform`/`layers_pattern`: a name listed exactly is selected as is; a name
 * matched by a suffix must also lie in one of the layers (HF applies no layer filter to a regex).
 */
export function selectedByHfTargets(targetModules: string | readonly string[], selection: HfLayerSelection, hfName: string): boolean {
  if (typeof targetModules === 'string') return matchesHfTargetModules(targetModules, hfName);
  if (targetModules.includes(hfName)) return true;
  return matchesHfTargetModules(targetModules, hfName) && inTransformedLayers(selection, hfName);
}

/** HF's shorthand for every linear but the output layer; our role group of the same name. */
export const HF_ALL_LINEAR = 'all-linear';

/**
 * The adapter in HF PEFT's files: `adapter_config.json` fields (sorted, as HF's `to_json_string`
 * writes them) and `base_model.model.<HF module name>.lora_A.weight` [r, in] /
 * `.lora_B.weight` [out, r] tensors. HF PEFT (tuners/lora/layer.py) makes lora_A an
 * `nn.Linear(in, r)` and lora_B an `nn.Linear(r, out)` whose weights are [out_features,
 * in_features], also for GPT-2's Conv1D (its in/out come from the [in, out] weight), and
 * `get_peft_model_state_dict` (utils/save_and_load.py) drops the adapter name (`lora_A.default.weight`).
 * DoRA's magnitude is `<module>.lora_magnitude_vector` [out]: save_and_load.py also drops the
 * `.weight` of the DoraLinearLayer that holds it, keeping the older ParameterDict key.
 */
export function exportLoraHf(model: Module<any, any>, config: LoraConfig, targets: readonly LoraTarget[], copies: readonly CopyTarget[] = []): HfAdapterFiles {
  const named = requireHfNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  for (const { path, layer } of targets) {
    const hfName = named.hfModuleName(path);
    const keys = hfLoraKeys(`${HF_LORA_KEY_PREFIX}${hfName}`, layer);
    tensors[keys.a] = tf.transpose(layer.loraA.value);
    tensors[keys.b] = tf.transpose(layer.loraB.value);
    if (layer.loraMagnitude) tensors[`${HF_LORA_KEY_PREFIX}${hfName}.lora_magnitude_vector`] = tf.clone(layer.loraMagnitude.value);
    if (layer.r !== config.r) rankPattern[hfName] = layer.r;
    if (layer.alpha !== config.alpha) alphaPattern[hfName] = layer.alpha;
  }
  const saved = modulesToSaveForHf(model, copies);
  Object.assign(tensors, modulesToSaveTensors(model, saved));
  const targetSelection = hfTargetSelectionOf(named, targets.map(({ path }) => path));
  const hfConfig: Record<string, unknown> = {
    alpha_pattern: alphaPattern,
    base_model_name_or_path: null,
    bias: 'none',
    fan_in_fan_out: targets.some(({ path }) => isConv1d(model, path)),
    inference_mode: true,
    init_lora_weights: config.init === 'gaussian' ? 'gaussian' : true,
    layers_pattern: null,
    layers_to_transform: targetSelection.layersToTransform,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    modules_to_save: saved.length ? hfTargetModulesOf(named, saved.map(({ path }) => path)) : null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: rankPattern,
    revision: null,
    target_modules: targetSelection.targetModules,
    task_type: hfTaskType(model),
    use_dora: config.useDora,
    use_rslora: config.useRslora,
  };
  return { config: Object.fromEntries(Object.entries(hfConfig).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), tensors };
}

/**
 * `modules_to_save` tensors as HF PEFT keys them: `base_model.model.<HF name>.weight` [out, in] and
 * `.bias` (get_peft_model_state_dict drops the ModulesToSaveWrapper's `modules_to_save.<adapter>`).
 */
export function modulesToSaveTensors(model: Module<any, any>, saved: readonly SavedModule[]): Record<string, tf.Tensor> {
  const named = requireHfNames(model);
  const tensors: Record<string, tf.Tensor> = {};
  for (const { path, layer } of saved) {
    for (const [name, parameter] of layer.ownNamedParameters()) {
      const transpose = name === 'weight' && !isConv1d(model, path);
      tensors[`${HF_LORA_KEY_PREFIX}${named.hfModuleName(path)}.${name}`] = transpose ? tf.transpose(parameter.value) : tf.clone(parameter.value);
    }
  }
  return tensors;
}

/** GPT-2's block projections are HF Conv1D modules (weights [in, out], like ours); its `score` head is an nn.Linear. */
function isConv1d(model: Module<any, any>, path: string): boolean {
  return model instanceof GptModel && path.startsWith('decoder.');
}

/**
 * `target_modules` naming exactly the targets: a leaf name (`query`, `c_attn`) where it selects
 * every target with that leaf and nothing else, the full HF module name otherwise.
 */
function hfTargetModulesOf(model: HfNamedModel, paths: readonly string[], inLayers: (hfName: string) => boolean = () => true): string[] {
  const targetNames = paths.map((path) => model.hfModuleName(path));
  const allNames = model
    .namedModules()
    .map(([path]) => (path === '' ? undefined : hfNameOrUndefined(model, path)))
    .filter((name): name is string => name !== undefined);
  const chosen = new Set<string>();
  for (const name of targetNames) {
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    const covered = new Set(allNames.filter((other) => matchesHfTargetModules([leaf], other) && inLayers(other)));
    const exact = covered.size === new Set(targetNames.filter((other) => matchesHfTargetModules([leaf], other))).size;
    chosen.add(exact ? leaf : name);
  }
  return [...chosen].sort();
}

/**
 * `target_modules`, plus `layers_to_transform` when the targets are leaf names restricted to some
 * layers (`['query', 'value']` in layers [1]) that leaf names alone would over-select. HF applies
 * `layers_to_transform` to suffix matches only, so the full names that remain are unaffected.
 */
export function hfTargetSelectionOf(model: HfNamedModel, paths: readonly string[]): { targetModules: string[]; layersToTransform: number[] | null } {
  const plain = hfTargetModulesOf(model, paths);
  const targetNames = paths.map((path) => model.hfModuleName(path));
  const fullNames = (modules: readonly string[]) => modules.filter((name) => targetNames.includes(name)).length;
  const indices = targetNames.map((name) => hfLayerIndex(name));
  if (fullNames(plain) === 0 || indices.some((index) => index === undefined)) return { targetModules: plain, layersToTransform: null };
  const layers = [...new Set(indices as number[])].sort((a, b) => a - b);
  const restricted = hfTargetModulesOf(model, paths, (name) => inTransformedLayers({ layersToTransform: layers }, name));
  return fullNames(restricted) < fullNames(plain) ? { targetModules: restricted, layersToTransform: layers } : { targetModules: plain, layersToTransform: null };
}

/** Loads HF-keyed tensors: every expected key present, no other key, shapes [r, in] / [out, r]. */
export function loadLoraHf(model: Module<any, any>, targets: readonly LoraTarget[], copies: readonly CopyTarget[], tensors: Record<string, tf.Tensor>): void {
  const named = requireHfNames(model);
  /** Each expected key: the parameter it fills, its shape in the file, and whether the file holds it transposed. */
  const expected = new Map<string, { parameter: Parameter; shape: number[]; transposed: boolean }>();
  for (const { path, layer } of targets) {
    const hfName = named.hfModuleName(path);
    const keys = hfLoraKeys(`${HF_LORA_KEY_PREFIX}${hfName}`, layer);
    const [inFeatures, outFeatures] = featureSizes(layer);
    expected.set(keys.a, { parameter: layer.loraA, shape: [layer.r, inFeatures], transposed: true });
    expected.set(keys.b, { parameter: layer.loraB, shape: [outFeatures, layer.r], transposed: true });
    if (layer.loraMagnitude) expected.set(`${HF_LORA_KEY_PREFIX}${hfName}.lora_magnitude_vector`, { parameter: layer.loraMagnitude, shape: [outFeatures], transposed: false });
  }
  for (const { path, layer } of copies) {
    for (const [name, parameter] of layer.ownNamedParameters()) {
      const transposed = name === 'weight' && !isConv1d(model, path);
      expected.set(`${HF_LORA_KEY_PREFIX}${named.hfModuleName(path)}.${name}`, { parameter, shape: transposed ? [...parameter.shape].reverse() : parameter.shape, transposed });
    }
  }
  const missing = [...expected.keys()].filter((key) => !(key in tensors));
  const unexpected = Object.keys(tensors).filter((key) => !expected.has(key));
  const wrongShape = [...expected].filter(([key, entry]) => key in tensors && !tf.util.arraysEqual(tensors[key]!.shape, entry.shape));
  if (missing.length || unexpected.length || wrongShape.length) {
    const parts = [
      missing.length ? `missing ${missing.slice(0, 6).join(', ')}` : '',
      unexpected.length ? `unexpected ${unexpected.slice(0, 6).join(', ')}` : '',
      ...wrongShape.slice(0, 6).map(([key, entry]) => `${key} has shape [${tensors[key]!.shape.join(', ')}], expected [${entry.shape.join(', ')}]`),
    ].filter(Boolean);
    throw new PeftError('checkpoint-mismatch', `The HF PEFT LoRA tensors do not fit the model: ${parts.join('; ')}.`, {
      field: 'tensors',
      value: [...missing, ...unexpected, ...wrongShape.map(([key]) => key)],
      allowed: [...expected].map(([key, entry]) => `${key} [${entry.shape.join(', ')}]`),
    });
  }
  for (const [key, { parameter, transposed }] of expected) tf.tidy(() => parameter.assign(transposed ? tf.transpose(tensors[key]!) : tensors[key]!));
}

/** Reads HF PEFT's `adapter_config.json` for LoRA into our config; what we cannot reproduce is an error, not ignored. */
export function loraConfigFromHf(hf: Record<string, unknown>): LoraConfigInput {
  const reject = (field: string, allowed: string): never => {
    throw new PeftError('not-implemented', `This HF PEFT LoRA adapter sets ${field} = ${JSON.stringify(hf[field])}, which @peftjs/lora does not support yet.`, {
      field,
      value: hf[field],
      allowed,
    });
  };
  if (hf.peft_type !== 'LORA') reject('peft_type', 'LORA');
  if (hf.bias !== undefined && hf.bias !== 'none') reject('bias', 'none');
  const modulesToSave = hf.modules_to_save;
  if (!isEmpty(modulesToSave) && !(Array.isArray(modulesToSave) && modulesToSave.every((name) => typeof name === 'string'))) reject('modules_to_save', 'null or a list of module names');
  const layersToTransform = hf.layers_to_transform;
  if (!isEmpty(layersToTransform) && !isLayerIndex(layersToTransform) && !(Array.isArray(layersToTransform) && layersToTransform.every(isLayerIndex))) {
    reject('layers_to_transform', 'null, a layer index or a list of layer indices');
  }
  const layersPattern = hf.layers_pattern;
  if (!isEmpty(layersPattern) && typeof layersPattern !== 'string' && !(Array.isArray(layersPattern) && layersPattern.every((name) => typeof name === 'string'))) {
    reject('layers_pattern', 'null, a name or a list of names');
  }
  const init = hf.init_lora_weights;
  if (init !== undefined && init !== true && init !== false && init !== 'gaussian') reject('init_lora_weights', 'true, false or "gaussian"');
  const targetModules = hf.target_modules;
  const out: Record<string, unknown> = {
    ...(hf.r !== undefined ? { r: hf.r } : {}),
    ...(hf.lora_alpha !== undefined ? { alpha: hf.lora_alpha } : {}),
    ...(hf.lora_dropout !== undefined ? { dropout: hf.lora_dropout } : {}),
    ...(hf.use_rslora !== undefined ? { useRslora: hf.use_rslora } : {}),
    ...(hf.use_dora !== undefined ? { useDora: hf.use_dora } : {}),
    ...(init === 'gaussian' ? { init: 'gaussian' } : {}),
    ...(isRecord(hf.rank_pattern) ? { rankPattern: hf.rank_pattern } : {}),
    ...(isRecord(hf.alpha_pattern) ? { alphaPattern: hf.alpha_pattern } : {}),
    ...(isEmpty(modulesToSave) ? {} : { hfModulesToSave: modulesToSave }),
    ...(isEmpty(layersToTransform) ? {} : { layersToTransform }),
    ...(isEmpty(layersPattern) || layersPattern === '' ? {} : { layersPattern }),
  };
  if (targetModules === HF_ALL_LINEAR) out.targets = { roles: [HF_ALL_LINEAR] };
  else if (targetModules !== undefined && targetModules !== null) out.hfTargetModules = targetModules;
  return out as LoraConfigInput;
}

function isLayerIndex(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `hf` hook of the LoRA definition. */
export const loraHfFormat: HfAdapterFormat<typeof loraConfigSchema> = {
  peftType: 'LORA',
  configFromHf: loraConfigFromHf,
};
