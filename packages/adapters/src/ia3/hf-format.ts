import { GptModel, PeftError, tf, type HfAdapterFiles, type Module, type Parameter, type TaskType } from '@peftjs/core';
import type { Ia3ConfigInput } from './config';
import type { Ia3Linear } from './layer';

/**
 * HF PEFT's IA3 files (v0.20 `tuners/ia3/`): `adapter_config.json` with `peft_type: "IA3"`,
 * `target_modules`, `feedforward_modules`, `fan_in_fan_out`, `modules_to_save`; tensors
 * `base_model.model.<HF module name>.ia3_l` once `get_peft_model_state_dict` drops the adapter
 * name. `IA3Layer.update_layer` makes ia3_l [out, 1] for attention targets and [1, in] for
 * feed-forward ones (GPT-2's Conv1D takes in/out from its [in, out] weight, so the shapes are the
 * same there). The head HF trains in full for SEQ_CLS (`classifier`, `score`) is
 * `base_model.model.<name>.weight` ([out, in], an nn.Linear) and `.bias`.
 */
export const HF_IA3_KEY_PREFIX = 'base_model.model.';

const HF_TASK_TYPES: Readonly<Record<TaskType, string | null>> = {
  'sequence-classification': 'SEQ_CLS',
  regression: 'SEQ_CLS',
  'token-classification': 'TOKEN_CLS',
  'causal-lm': 'CAUSAL_LM',
  'masked-lm': null,
};

type HfNamedModel = Module<any, any> & { hfModuleName(path: string): string; task?: TaskType };

export function requireHfNames(model: Module<any, any>, field: string): HfNamedModel {
  if (typeof (model as unknown as Partial<HfNamedModel>).hfModuleName !== 'function') {
    throw new PeftError('not-implemented', `ia3's HF PEFT format needs a model with hfModuleName(path) (the reference BERT and GPT-2 models); got a ${model.constructor.name}.`, { field, value: model.constructor.name, allowed: 'a model with hfModuleName()' });
  }
  return model as HfNamedModel;
}

/** The HF name of a path, or undefined where HF has none. */
export function hfNameOf(model: HfNamedModel, path: string): string | undefined {
  try {
    return model.hfModuleName(path);
  } catch (error) {
    if (PeftError.isInstance(error)) return undefined;
    throw error;
  }
}

/** HF's `check_target_module_exists`: a string must fully match as a regex; a list entry is the name or its dot-separated suffix. */
export function matchesHfModules(patterns: string | readonly string[], hfName: string): boolean {
  if (typeof patterns === 'string') return new RegExp(`^(?:${patterns})$`).test(hfName);
  return patterns.some((pattern) => hfName === pattern || hfName.endsWith(`.${pattern}`));
}

/** HF's `_set_trainable` match for modules_to_save: the module name ends with an entry. */
export function matchesModulesToSave(names: readonly string[], hfName: string): boolean {
  return names.some((name) => hfName === name || hfName.endsWith(`.${name}`));
}

/** A head parameter trained in full: its state path (`head.classifier.weight`) and parameter. */
export interface SavedHeadParameter {
  path: string;
  parameter: Parameter;
}

function headKey(model: HfNamedModel, path: string): { key: string; transposed: boolean } {
  const dot = path.lastIndexOf('.');
  const modulePath = path.slice(0, dot);
  const hfName = hfNameOf(model, modulePath);
  if (hfName === undefined) throw new PeftError('not-implemented', `ia3: the trained module ${modulePath} has no HF name, so HF PEFT's files cannot hold it.`, { field: 'modulesToSave', value: modulePath, allowed: 'the task head (classifier, score)' });
  const name = path.slice(dot + 1);
  return { key: `${HF_IA3_KEY_PREFIX}${hfName}.${name}`, transposed: name === 'weight' };
}

/** Our targets and head as HF PEFT's IA3 files. */
export function exportIa3Hf(model: Module<any, any>, targets: ReadonlyArray<{ path: string; wrapper: Ia3Linear }>, adapterName: string, head: readonly SavedHeadParameter[]): HfAdapterFiles {
  const named = requireHfNames(model, 'format');
  const tensors: Record<string, tf.Tensor> = {};
  const targetNames: string[] = [];
  const feedforwardNames: string[] = [];
  for (const { path, wrapper } of targets) {
    const hfName = hfNameOf(named, path);
    if (hfName === undefined) throw new PeftError('not-implemented', `ia3: target ${path} has no HF module name.`, { field: 'targets', value: path, allowed: 'modules HF transformers has' });
    const feedforward = wrapper.isFeedforward(adapterName);
    const vector = wrapper.vectorOf(adapterName).value;
    tensors[`${HF_IA3_KEY_PREFIX}${hfName}.ia3_l`] = feedforward ? tf.reshape(vector, [1, -1]) : tf.reshape(vector, [-1, 1]);
    targetNames.push(hfName);
    if (feedforward) feedforwardNames.push(hfName);
  }
  const task = named.task === undefined ? null : HF_TASK_TYPES[named.task];
  const headNames = new Set<string>();
  for (const { path, parameter } of head) {
    const { key, transposed } = headKey(named, path);
    tensors[key] = transposed ? tf.transpose(parameter.value) : tf.clone(parameter.value);
    headNames.add(key.slice(HF_IA3_KEY_PREFIX.length, key.lastIndexOf('.')));
  }
  const config: Record<string, unknown> = {
    auto_mapping: null,
    base_model_name_or_path: null,
    exclude_modules: null,
    fan_in_fan_out: model instanceof GptModel && targets.some(({ path }) => path.startsWith('decoder.')),
    feedforward_modules: feedforwardNames,
    inference_mode: true,
    init_ia3_weights: true,
    modules_to_save: headNames.size ? [...headNames] : null,
    peft_type: 'IA3',
    revision: null,
    target_modules: targetNames,
    task_type: task,
  };
  return { config: Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), tensors };
}

/** Loads tensors keyed as HF PEFT writes them; every key and shape must match (a 'checkpoint-mismatch' error otherwise, nothing loaded). */
export function loadIa3Hf(model: Module<any, any>, targets: ReadonlyArray<{ path: string; wrapper: Ia3Linear }>, adapterName: string, head: readonly SavedHeadParameter[], tensors: Record<string, tf.Tensor>): void {
  const named = requireHfNames(model, 'format');
  const expected = new Map<string, { parameter: Parameter; shape: number[]; transposed: boolean }>();
  for (const { path, wrapper } of targets) {
    const parameter = wrapper.vectorOf(adapterName);
    const shape = wrapper.isFeedforward(adapterName) ? [1, parameter.size] : [parameter.size, 1];
    expected.set(`${HF_IA3_KEY_PREFIX}${hfNameOf(named, path)}.ia3_l`, { parameter, shape, transposed: false });
  }
  for (const { path, parameter } of head) {
    const { key, transposed } = headKey(named, path);
    expected.set(key, { parameter, shape: transposed ? [...parameter.shape].reverse() : [...parameter.shape], transposed });
  }
  const missing = [...expected.keys()].filter((key) => !(key in tensors));
  const unexpected = Object.keys(tensors).filter((key) => !expected.has(key));
  const misShaped = [...expected].filter(([key, { shape }]) => key in tensors && tensors[key]!.shape.join(',') !== shape.join(',')).map(([key]) => key);
  if (missing.length || unexpected.length || misShaped.length) {
    throw new PeftError('checkpoint-mismatch', `ia3: HF adapter tensors do not fit this model: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}], mis-shaped [${misShaped.join(', ')}].`, {
      field: 'tensors',
      value: Object.keys(tensors),
      allowed: [...expected.keys()],
    });
  }
  for (const [key, { parameter, transposed }] of expected) {
    tf.tidy(() => parameter.assign(tf.reshape(transposed ? tf.transpose(tensors[key]!) : tensors[key]!, parameter.shape)));
  }
}

/** HF PEFT's IA3 `adapter_config.json` as our config. */
export function ia3ConfigFromHf(hf: Record<string, unknown>): Ia3ConfigInput {
  const reject = (field: string, allowed: string): never => {
    throw new PeftError('not-implemented', `This HF PEFT IA3 adapter sets ${field} = ${JSON.stringify(hf[field])}, which @peftjs/adapters does not support.`, { field, value: hf[field], allowed });
  };
  if (hf.peft_type !== 'IA3') reject('peft_type', 'IA3');
  if (hf.exclude_modules !== undefined && hf.exclude_modules !== null && !(Array.isArray(hf.exclude_modules) && hf.exclude_modules.length === 0)) reject('exclude_modules', 'null');
  const names = (value: unknown, field: string): string | string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' || (Array.isArray(value) && value.every((entry) => typeof entry === 'string'))) return value as string | string[];
    return reject(field, 'a regex string or a list of module names');
  };
  const targets = names(hf.target_modules, 'target_modules');
  if (targets === undefined) reject('target_modules', 'explicit module names (HF fills the defaults in when it saves)');
  const feedforward = names(hf.feedforward_modules, 'feedforward_modules');
  const saved = names(hf.modules_to_save, 'modules_to_save');
  return {
    hfTargetModules: targets!,
    hfFeedforwardModules: feedforward ?? [],
    ...(saved !== undefined && saved.length > 0 ? { hfModulesToSave: typeof saved === 'string' ? [saved] : saved } : {}),
    ...(typeof hf.init_ia3_weights === 'boolean' ? { initIa3Weights: hf.init_ia3_weights } : {}),
  };
}
