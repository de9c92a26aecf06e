import { LayerNorm, Linear, PeftError, headParameters, tf, type HfAdapterFiles, type HfAdapterFormat, type Module, type Parameter, type SelectedTensor, type SelectiveAppliedMethod, type TaskType, type TensorSelection } from '@peftjs/core';
import type { LnTuningConfig, LnTuningConfigInput, lnTuningConfigSchema } from './config';

/**
 * HF PEFT's LayerNorm tuning files (peft_type `LN_TUNING`, HF PEFT v0.20 `tuners/ln_tuning/`).
 * `LNTuningLayer` keeps a deep copy of each targeted module in `ln_tuning_layers[adapter]` and
 * runs the copy instead of the base module, so its file holds the whole module:
 * `base_model.model.<HF module name>.ln_tuning_layers.weight` (our gamma) and `.bias` (our beta),
 * once `get_peft_model_state_dict` has dropped the adapter name. The head HF trains in full
 * (`modules_to_save`, which `PeftModelForSequenceClassification` fills with `classifier` and
 * `score`) is stored as `base_model.model.<HF module name>.weight|bias`, a Linear weight as
 * torch's [out, in].
 */
export const HF_LN_TUNING_KEY_PREFIX = 'base_model.model.';

/** HF PEFT's `TaskType` for our tasks (HF has none for masked LM). */
const HF_TASK_TYPES: Readonly<Record<TaskType, string | null>> = {
  'sequence-classification': 'SEQ_CLS',
  regression: 'SEQ_CLS',
  'token-classification': 'TOKEN_CLS',
  'causal-lm': 'CAUSAL_LM',
  'masked-lm': null,
};

/** HF PEFT's task types whose PeftModel subclass requires the classifier in the file (it adds `classifier`, `score` to modules_to_save). */
const TASKS_WITH_SAVED_HEAD: ReadonlySet<string | null> = new Set(['SEQ_CLS', 'TOKEN_CLS']);

type HfNamedModel = Module<any, any> & { hfModuleName(path: string): string; task?: TaskType };

function requireHfNames(model: Module<any, any>, field: string): HfNamedModel {
  if (typeof (model as unknown as Partial<HfNamedModel>).hfModuleName !== 'function') {
    throw new PeftError('not-implemented', `ln-tuning's HF PEFT format needs a model with hfModuleName(path) (the reference BERT and GPT-2 models); got a ${model.constructor.name}.`, {
      field,
      value: model.constructor.name,
      allowed: 'a model with hfModuleName()',
    });
  }
  return model as HfNamedModel;
}

/** Every module of the model that HF has, with its HF name, in model order. */
function hfNamedModules(model: HfNamedModel): Array<{ path: string; module: Module<any, any>; hfName: string }> {
  return model.namedModules().flatMap(([path, module]) => {
    if (path === '') return [];
    try {
      return [{ path, module, hfName: model.hfModuleName(path) }];
    } catch (error) {
      if (PeftError.isInstance(error)) return [];
      throw error;
    }
  });
}

/** HF's `target_modules` test (`check_target_module_exists`): a string fully matches as a regex; a list entry is the name or its last components. */
function matchesTargets(targets: string | readonly string[], hfName: string): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(hfName);
  return targets.some((target) => hfName === target || hfName.endsWith(`.${target}`));
}

/** HF never targets a module that `modules_to_save` names (`(^|.*\.)<name>($|\..*)`). */
function namedByModulesToSave(modulesToSave: readonly string[] | undefined, hfName: string): boolean {
  return (modulesToSave ?? []).some((name) => new RegExp(`(^|.*\\.)${name}($|\\..*)`).test(hfName));
}

/** HF's `_set_trainable` match for modules_to_save: the module name ends with the entry (no dot boundary). */
function savedByModulesToSave(modulesToSave: readonly string[], hfName: string): boolean {
  return modulesToSave.some((name) => hfName.endsWith(name));
}

/**
 * The norms `hfTargetModules` selects, as HF PEFT would wrap them: the modules whose HF name it
 * matches, less `hfExcludeModules` and the modules `hfModulesToSave` names. HF would deep-copy
 * whatever matches; we train LayerNorms only, so another matched module is a 'not-implemented'
 * error rather than a different adapter.
 */
export function hfTargetedNorms(model: Module<any, any>, config: LnTuningConfig, tensorKinds: readonly ('gamma' | 'beta')[]): TensorSelection[] {
  const targets = config.hfTargetModules!;
  const named = requireHfNames(model, 'ln-tuning.hfTargetModules');
  const all = hfNamedModules(named);
  const matched = all.filter(({ hfName }) => {
    if (!matchesTargets(targets, hfName)) return false;
    if (config.hfExcludeModules !== undefined && matchesExclude(config.hfExcludeModules, hfName)) return false;
    return !namedByModulesToSave(config.hfModulesToSave, hfName);
  });
  if (matched.length === 0) {
    throw new PeftError('selector-no-match', `ln-tuning: HF target_modules ${JSON.stringify(targets)} match no module of this model.`, {
      field: 'ln-tuning.hfTargetModules',
      value: targets,
      allowed: all.filter(({ module }) => module instanceof LayerNorm).map(({ hfName }) => hfName),
    });
  }
  const other = matched.filter(({ module }) => !(module instanceof LayerNorm));
  if (other.length > 0) {
    throw new PeftError('not-implemented', `ln-tuning: HF target_modules ${JSON.stringify(targets)} match modules that are not LayerNorms (${other.map(({ hfName }) => hfName).join(', ')}); HF PEFT would train a full copy of each, which ln-tuning does not do.`, {
      field: 'ln-tuning.hfTargetModules',
      value: targets,
      allowed: 'names or a pattern matching LayerNorm modules only',
    });
  }
  return matched.flatMap(({ path, module }) => tensorKinds.map((kind) => ({ path: `${path}.${kind}`, parameter: module.parameter(kind) })));
}

/** HF's `exclude_modules` test: a string fully matches as a regex; a list entry is the name or its last components. */
function matchesExclude(exclude: string | readonly string[], hfName: string): boolean {
  return matchesTargets(exclude, hfName);
}

/**
 * Whether HF's `modules_to_save` trains our task head. Entries naming modules outside the head
 * would make HF train those in full, which ln-tuning does not: a 'not-implemented' error.
 */
export function hfSavesHead(model: Module<any, any>, modulesToSave: readonly string[]): boolean {
  if (modulesToSave.length === 0) return false;
  const named = requireHfNames(model, 'ln-tuning.hfModulesToSave');
  const saved = hfNamedModules(named).filter(({ hfName }) => savedByModulesToSave(modulesToSave, hfName));
  const outside = saved.filter(({ path }) => path !== 'head' && !path.startsWith('head.'));
  if (outside.length > 0) {
    throw new PeftError('not-implemented', `ln-tuning: HF modules_to_save names modules outside the task head (${outside.map(({ hfName }) => hfName).join(', ')}); only the head can be trained in full here.`, {
      field: 'ln-tuning.hfModulesToSave',
      value: modulesToSave,
      allowed: 'names of the task head modules (classifier, score)',
    });
  }
  return saved.length > 0;
}

/** One tensor of the file: the parameter behind it, and how to read and write it. */
interface HfTensorSlot {
  key: string;
  parameter: Parameter;
  /** Set when the method trains this tensor: loading writes through it. */
  selected: SelectedTensor | undefined;
  /** The file holds torch's [out, in] of our [in, out] Linear weight. */
  transposed: boolean;
}

/** The module path and tensor name of a parameter path (`encoder.layers.0.attentionNorm.gamma`). */
function splitPath(path: string): { modulePath: string; name: string } {
  const dot = path.lastIndexOf('.');
  return { modulePath: path.slice(0, dot), name: path.slice(dot + 1) };
}

/** The tensors an LN_TUNING file of this applied method holds, and the config fields that depend on the model. */
function hfLayout(model: Module<any, any>, applied: SelectiveAppliedMethod): { slots: HfTensorSlot[]; normNames: string[]; headNames: string[]; taskType: string | null } {
  const named = requireHfNames(model, 'model');
  const taskType = named.task === undefined ? null : HF_TASK_TYPES[named.task];
  const byParameter = new Map<Parameter, SelectedTensor>([...applied.selections, ...applied.head].map((selected) => [selected.parameter, selected]));
  const slots: HfTensorSlot[] = [];
  const normPaths = [...new Set(applied.selections.map((selected) => splitPath(selected.path).modulePath))];
  const normNames: string[] = [];
  for (const modulePath of normPaths) {
    const norm = model.getModule(modulePath);
    if (!(norm instanceof LayerNorm)) {
      throw new PeftError('not-implemented', `ln-tuning's HF PEFT format stores whole LayerNorms; ${modulePath} is a ${norm.constructor.name}.`, { field: 'selections', value: modulePath, allowed: 'LayerNorm modules' });
    }
    const hfName = named.hfModuleName(modulePath);
    normNames.push(hfName);
    for (const [name, hfTensor] of [['gamma', 'weight'], ['beta', 'bias']] as const) {
      const parameter = norm.parameter(name);
      slots.push({ key: `${HF_LN_TUNING_KEY_PREFIX}${hfName}.ln_tuning_layers.${hfTensor}`, parameter, selected: byParameter.get(parameter), transposed: false });
    }
  }
  // HF's SEQ_CLS / TOKEN_CLS models always train and save the head, and their loader fails
  // without it: the file holds ours whether or not this method trains it (frozen, it is the base head).
  const headNames: string[] = [];
  const head = TASKS_WITH_SAVED_HEAD.has(taskType) ? headParameters(model) : applied.head.map(({ path, parameter }) => ({ path, parameter }));
  for (const { path, parameter } of head) {
    const { modulePath, name } = splitPath(path);
    const hfName = hfNameOrUndefined(named, modulePath);
    if (hfName === undefined || taskType === null) {
      throw new PeftError('not-implemented', `ln-tuning's HF PEFT format: the head parameter ${path} has no HF modules_to_save counterpart for task ${String(named.task)}.`, {
        field: 'trainHead',
        value: true,
        allowed: 'false for this model (or a sequence/token-classification or regression head)',
      });
    }
    if (!headNames.includes(hfName)) headNames.push(hfName);
    // The heads (BERT's classifier, GPT-2's score) are nn.Linear in HF, not Conv1D: weights are stored [out, in].
    slots.push({ key: `${HF_LN_TUNING_KEY_PREFIX}${hfName}.${name}`, parameter, selected: byParameter.get(parameter), transposed: name === 'weight' && model.getModule(modulePath) instanceof Linear });
  }
  return { slots, normNames, headNames, taskType };
}

function hfNameOrUndefined(model: HfNamedModel, path: string): string | undefined {
  try {
    return model.hfModuleName(path);
  } catch (error) {
    if (PeftError.isInstance(error)) return undefined;
    throw error;
  }
}

/** The value this method holds for a slot now: the trained value (also while disabled), else the parameter's. */
function currentValue(slot: HfTensorSlot): tf.Tensor {
  return slot.selected ? slot.selected.state()[slot.selected.path]! : slot.parameter.value;
}

/**
 * `target_modules` naming exactly the norms: a leaf name (`LayerNorm`, `ln_1`) where it selects
 * those norms and no other module of the model, the full HF module name otherwise.
 */
function hfTargetModulesOf(model: HfNamedModel, names: readonly string[]): string[] {
  const allNames = hfNamedModules(model).map(({ hfName }) => hfName);
  const chosen = new Set<string>();
  for (const name of names) {
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    const covered = allNames.filter((other) => matchesTargets([leaf], other));
    chosen.add(covered.every((other) => names.includes(other)) ? leaf : name);
  }
  return [...chosen].sort();
}

/**
 * The applied method in HF PEFT's LN_TUNING files: both tensors of every norm it trains (a norm
 * whose gamma alone trains stores its base beta, since HF's copy holds the whole module), the
 * head where HF's task type stores it, and the `adapter_config.json` fields HF writes, sorted.
 */
export function exportLnTuningHf(model: Module<any, any>, applied: SelectiveAppliedMethod): HfAdapterFiles {
  const named = requireHfNames(model, 'model');
  const { slots, normNames, headNames, taskType } = hfLayout(model, applied);
  const tensors: Record<string, tf.Tensor> = {};
  for (const slot of slots) {
    const value = currentValue(slot);
    tensors[slot.key] = slot.transposed ? tf.transpose(value) : tf.clone(value);
  }
  const hfConfig: Record<string, unknown> = {
    auto_mapping: null,
    base_model_name_or_path: null,
    exclude_modules: null,
    inference_mode: true,
    modules_to_save: headNames.length ? headNames : null,
    peft_type: 'LN_TUNING',
    revision: null,
    target_modules: hfTargetModulesOf(named, normNames),
    task_type: taskType,
  };
  return { config: Object.fromEntries(Object.entries(hfConfig).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), tensors };
}

/**
 * Loads HF-keyed tensors: every expected key present, no other, shapes as HF stores them. A
 * tensor the file holds that this method does not train (the beta of a gamma-only norm, a head
 * with trainHead off) must equal the model's own value: otherwise the file describes another
 * adapter, and loading would silently drop part of it.
 */
export function loadLnTuningHf(model: Module<any, any>, applied: SelectiveAppliedMethod, tensors: Record<string, tf.Tensor>): void {
  const { slots } = hfLayout(model, applied);
  const fileShape = (slot: HfTensorSlot) => (slot.transposed ? [...slot.parameter.shape].reverse() : [...slot.parameter.shape]);
  // A head HF stores for every SEQ_CLS adapter may be absent from a file of another task type.
  const required = slots.filter((slot) => slot.selected || slot.key in tensors || slot.key.includes('.ln_tuning_layers.'));
  const expected = new Set(required.map((slot) => slot.key));
  const missing = required.filter((slot) => !(slot.key in tensors)).map((slot) => slot.key);
  const unexpected = Object.keys(tensors).filter((key) => !expected.has(key));
  const wrongShape = required.filter((slot) => slot.key in tensors && !tf.util.arraysEqual(tensors[slot.key]!.shape, fileShape(slot)));
  if (missing.length || unexpected.length || wrongShape.length) {
    const parts = [
      missing.length ? `missing ${missing.slice(0, 6).join(', ')}` : '',
      unexpected.length ? `unexpected ${unexpected.slice(0, 6).join(', ')}` : '',
      ...wrongShape.slice(0, 6).map((slot) => `${slot.key} has shape [${tensors[slot.key]!.shape.join(', ')}], expected [${fileShape(slot).join(', ')}]`),
    ].filter(Boolean);
    throw new PeftError('checkpoint-mismatch', `The HF PEFT LN_TUNING tensors do not fit this ln-tuning: ${parts.join('; ')}.`, {
      field: 'tensors',
      value: [...missing, ...unexpected, ...wrongShape.map((slot) => slot.key)],
      allowed: required.map((slot) => `${slot.key} [${fileShape(slot).join(', ')}]`),
    });
  }
  const values = required.map((slot) => ({ slot, value: tf.tidy(() => (slot.transposed ? tf.transpose(tensors[slot.key]!) : tf.clone(tensors[slot.key]!))) }));
  try {
    const differing = values.filter(({ slot, value }) => !slot.selected && tf.tidy(() => tf.any(tf.notEqual(value, slot.parameter.value)).dataSync()[0] === 1));
    if (differing.length) {
      throw new PeftError('checkpoint-mismatch', `The HF PEFT LN_TUNING file changes tensors this ln-tuning does not train: ${differing.map(({ slot }) => slot.key).join(', ')}. Apply ln-tuning with tensors: 'both' (and trainHead: true for a head).`, {
        field: 'tensors',
        value: differing.map(({ slot }) => slot.key),
        allowed: 'values equal to the base model for tensors the config leaves frozen',
      });
    }
    for (const { slot, value } of values) slot.selected?.load({ [slot.selected.path]: value }, 'ln-tuning');
  } finally {
    tf.dispose(values.map(({ value }) => value));
  }
}

/** Adds HF PEFT's LN_TUNING files to an applied ln-tuning. */
export function withLnTuningHf(model: Module<any, any>, applied: SelectiveAppliedMethod): SelectiveAppliedMethod {
  applied.exportHf = () => exportLnTuningHf(model, applied);
  applied.loadHf = (tensors) => loadLnTuningHf(model, applied, tensors);
  return applied;
}

/** Reads HF PEFT's LN_TUNING `adapter_config.json` into our config: HF's copy trains each targeted norm whole. */
export function lnTuningConfigFromHf(hf: Record<string, unknown>): LnTuningConfigInput {
  if (hf.peft_type !== 'LN_TUNING') {
    throw new PeftError('invalid-config', `ln-tuning reads HF PEFT adapters of peft_type LN_TUNING; this one is ${JSON.stringify(hf.peft_type)}.`, { field: 'peft_type', value: hf.peft_type, allowed: ['LN_TUNING'] });
  }
  const present = (value: unknown) => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
  return {
    tensors: 'both',
    hfModulesToSave: (present(hf.modules_to_save) ? hf.modules_to_save : []) as string[],
    ...(present(hf.target_modules) ? { hfTargetModules: hf.target_modules as string | string[] } : {}),
    ...(present(hf.exclude_modules) ? { hfExcludeModules: hf.exclude_modules as string | string[] } : {}),
  };
}

/** The `hf` hook of the ln-tuning definition. */
export const lnTuningHfFormat: HfAdapterFormat<typeof lnTuningConfigSchema> = {
  peftType: 'LN_TUNING',
  configFromHf: lnTuningConfigFromHf,
};
