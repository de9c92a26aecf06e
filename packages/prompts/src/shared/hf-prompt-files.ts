import { PeftError, tf, type AppliedMethod, type Module, type ModelInfo, type Parameter, type TaskType } from '@peftjs/core';

/** HF PEFT's task_type for each of our tasks (null: HF has no prompt-learning model for it). */
const HF_TASK_TYPES: Readonly<Record<TaskType, string | null>> = {
  'sequence-classification': 'SEQ_CLS',
  regression: 'SEQ_CLS',
  'token-classification': 'TOKEN_CLS',
  'causal-lm': 'CAUSAL_LM',
  'masked-lm': null,
};

/** HF PEFT's key of the prompt table in `adapter_model.safetensors`. */
export const HF_PROMPT_EMBEDDINGS = 'prompt_embeddings';

/** Prompt-learning models' `modules_to_save` (PeftModelForSequenceClassification adds these two). */
const HF_SEQ_CLS_MODULES_TO_SAVE = ['classifier', 'score'];

type HfNamedModel = Module<any, any> & { hfModuleName(path: string): string };

function hfNamed(model: Module<any, any>, method: string): HfNamedModel {
  if (typeof (model as unknown as Partial<HfNamedModel>).hfModuleName === 'function') return model as HfNamedModel;
  throw new PeftError('not-implemented', `${method}'s HF PEFT format needs a model with hfModuleName(path) (the reference BERT and GPT-2 models); got a ${model.constructor.name}.`, {
    field: 'model',
    value: model.constructor.name,
    allowed: 'a model with hfModuleName()',
  });
}

/**
 * The `adapter_config.json` fields every HF prompt-learning config has (PromptLearningConfig), for
 * this model: HF reads `num_layers`, `token_dim`, `num_attention_heads` from them when it rebuilds
 * the prompt encoder, and saves with `inference_mode: true`.
 */
export function hfPromptLearningFields(info: ModelInfo, peftType: string, numVirtualTokens: number, method: string): Record<string, unknown> {
  const taskType = HF_TASK_TYPES[info.task as TaskType] ?? null;
  if (taskType === null) {
    throw new PeftError('not-implemented', `${method}: HF PEFT has no prompt-learning model for the task "${info.task}".`, { field: 'task', value: info.task, allowed: Object.keys(HF_TASK_TYPES).filter((task) => HF_TASK_TYPES[task as TaskType]) });
  }
  return {
    base_model_name_or_path: null,
    inference_mode: true,
    modules_to_save: taskType === 'SEQ_CLS' ? HF_SEQ_CLS_MODULES_TO_SAVE : null,
    num_attention_heads: info.numHeads,
    num_layers: info.numLayers,
    num_transformer_submodules: 1,
    num_virtual_tokens: numVirtualTokens,
    peft_type: peftType,
    revision: null,
    task_type: taskType,
    token_dim: info.hiddenSize,
  };
}

/** HF's key of one of our head parameters (`head.classifier.weight` -> `base_model.classifier.weight`). */
function hfHeadKey(model: HfNamedModel, path: string): string {
  const dot = path.lastIndexOf('.');
  return `base_model.${model.hfModuleName(path.slice(0, dot))}.${path.slice(dot + 1)}`;
}

/** The trained head parameters (modules to save), keyed by their paths. */
export function headParametersOf(head: AppliedMethod | undefined): Array<[string, Parameter]> {
  if (!head) return [];
  const selections = (head as { selections?: ReadonlyArray<{ path: string; parameter: Parameter }> }).selections ?? [];
  return selections.map(({ path, parameter }) => [path, parameter]);
}

/** The trained head as HF saves modules_to_save: `base_model.<hf module>.<weight|bias>`, weights [out, in]. */
export function hfHeadTensors(model: Module<any, any>, head: AppliedMethod | undefined, method: string): Record<string, tf.Tensor> {
  const entries = headParametersOf(head);
  if (!entries.length) return {};
  const named = hfNamed(model, method);
  return Object.fromEntries(entries.map(([path, parameter]) => [hfHeadKey(named, path), parameter.value.rank === 2 ? tf.transpose(parameter.value) : tf.clone(parameter.value)]));
}

/**
 * Loads HF tensors into the prompt table and the head: `prompt` takes `prompt_embeddings`; head keys
 * present in the file are loaded into the trained head (absent ones keep the base head, as HF's
 * non-strict load does). Unknown keys or wrong shapes are one 'checkpoint-mismatch' error, nothing loaded.
 */
export function loadHfPromptFile(method: string, model: Module<any, any>, tensors: Record<string, tf.Tensor>, prompt: { shape: number[]; assign(value: tf.Tensor): void }, head: AppliedMethod | undefined): void {
  const problems: string[] = [];
  const table = tensors[HF_PROMPT_EMBEDDINGS];
  if (!table) problems.push(`missing ${HF_PROMPT_EMBEDDINGS}`);
  else if (!tf.util.arraysEqual(table.shape, prompt.shape)) problems.push(`${HF_PROMPT_EMBEDDINGS} has shape [${table.shape.join(', ')}], expected [${prompt.shape.join(', ')}]`);
  const headEntries = headParametersOf(head);
  const named = headEntries.length ? hfNamed(model, method) : undefined;
  const headByKey = new Map(headEntries.map(([path, parameter]) => [hfHeadKey(named!, path), parameter] as const));
  for (const [key, tensor] of Object.entries(tensors)) {
    if (key === HF_PROMPT_EMBEDDINGS) continue;
    const parameter = headByKey.get(key);
    if (!parameter) problems.push(`unexpected ${key}${key.startsWith('base_model.') && !headEntries.length ? ' (a trained head: use modulesToSave)' : ''}`);
    else {
      const shape = parameter.shape.length === 2 ? [parameter.shape[1]!, parameter.shape[0]!] : parameter.shape;
      if (!tf.util.arraysEqual(tensor.shape, shape)) problems.push(`${key} has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
  if (problems.length) {
    throw new PeftError('checkpoint-mismatch', `The HF PEFT file does not fit ${method} on this model: ${problems.join('; ')}.`, { field: `${method}.hf`, value: Object.keys(tensors), allowed: [HF_PROMPT_EMBEDDINGS, ...headByKey.keys()] });
  }
  prompt.assign(table!);
  for (const [key, tensor] of Object.entries(tensors)) {
    const parameter = headByKey.get(key);
    if (parameter) tf.tidy(() => parameter.assign(tensor.rank === 2 ? tf.transpose(tensor) : tensor));
  }
}

/** HF's modules_to_save in a config means the head is trained (SEQ_CLS prompt learning always lists it). */
export function modulesToSaveFromHf(hf: Record<string, unknown>): { roles: string[] } | undefined {
  return Array.isArray(hf.modules_to_save) && hf.modules_to_save.length > 0 ? { roles: ['head'] } : undefined;
}

/** A required positive integer field of an HF config. */
export function hfInteger(hf: Record<string, unknown>, field: string, method: string): number {
  const value = hf[field];
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw new PeftError('invalid-config', `${method}: HF adapter_config.json field ${field} is ${JSON.stringify(value)}.`, { field, value, allowed: 'a positive integer' });
}
