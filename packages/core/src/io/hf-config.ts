import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import type { ActivationName } from '../nn/activations';
import type { BertTask, GptTask } from '../models/config';
import type { TaskType } from '../models/types';

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

/**
 * The fields of an HF `BertConfig` (config.json) that decide the architecture; others are kept
 * (and ignored). Defaults are transformers' own.
 */
export const HfBertConfigSchema = z.looseObject({
  model_type: z.string().optional(),
  architectures: z.array(z.string()).nullish(),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  intermediate_size: positiveInt,
  hidden_act: z.string().default('gelu'),
  hidden_dropout_prob: probability.default(0.1),
  attention_probs_dropout_prob: probability.default(0.1),
  max_position_embeddings: positiveInt.default(512),
  type_vocab_size: positiveInt.default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  position_embedding_type: z.string().default('absolute'),
  is_decoder: z.boolean().default(false),
  add_cross_attention: z.boolean().default(false),
  num_labels: positiveInt.optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  label2id: z.record(z.string(), z.number()).optional(),
  problem_type: z.string().nullish(),
});
export type HfBertConfig = z.output<typeof HfBertConfigSchema>;

/** The fields of an HF `GPT2Config` that decide the architecture. */
export const HfGpt2ConfigSchema = z.looseObject({
  model_type: z.string().optional(),
  architectures: z.array(z.string()).nullish(),
  vocab_size: positiveInt,
  n_embd: positiveInt,
  n_layer: positiveInt,
  n_head: positiveInt,
  n_positions: positiveInt.optional(),
  n_ctx: positiveInt.optional(),
  n_inner: positiveInt.nullish(),
  activation_function: z.string().default('gelu_new'),
  resid_pdrop: probability.default(0.1),
  embd_pdrop: probability.default(0.1),
  attn_pdrop: probability.default(0.1),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  add_cross_attention: z.boolean().default(false),
  tie_word_embeddings: z.boolean().default(true),
  num_labels: positiveInt.optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  problem_type: z.string().nullish(),
});
export type HfGpt2Config = z.output<typeof HfGpt2ConfigSchema>;

/** HF `hidden_act` / `activation_function` names and the activation they compute here. */
const HF_ACTIVATIONS: Readonly<Record<string, ActivationName>> = {
  gelu: 'gelu',
  gelu_new: 'gelu_new',
  gelu_pytorch_tanh: 'gelu_new',
  gelu_fast: 'gelu_new',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
  tanh: 'tanh',
};

/** Our activation for an HF activation name; an unknown one is an 'invalid-config' error. */
export function activationFromHf(name: string, field: string): ActivationName {
  const found = HF_ACTIVATIONS[name];
  if (!found) {
    throw new PeftError('invalid-config', `config.json ${field} "${name}" is not supported.`, { field, value: name, allowed: Object.keys(HF_ACTIVATIONS) });
  }
  return found;
}

/** Fails on a config value the reference models cannot reproduce, instead of loading a different model. */
export function requireHfSetting(field: string, value: unknown, supported: unknown): void {
  if (value !== supported) {
    throw new PeftError('invalid-config', `config.json ${field} = ${JSON.stringify(value)} is not supported by the reference models.`, {
      field,
      value,
      allowed: [JSON.stringify(supported)],
    });
  }
}

/** The BERT task an HF architecture name implies, if any. */
export function bertTaskFromHf(config: HfBertConfig): BertTask | undefined {
  const architecture = config.architectures?.[0];
  switch (architecture) {
    case 'BertForSequenceClassification':
      return config.problem_type === 'regression' || (config.problem_type == null && hfNumLabels(config) === 1) ? 'regression' : 'sequence-classification';
    case 'BertForTokenClassification':
      return 'token-classification';
    case 'BertForMaskedLM':
    case 'BertForPreTraining':
      return 'masked-lm';
    default:
      return undefined;
  }
}

/** The GPT task an HF architecture name implies, if any. */
export function gptTaskFromHf(config: HfGpt2Config): GptTask | undefined {
  const architecture = config.architectures?.[0];
  switch (architecture) {
    case 'GPT2ForSequenceClassification':
      return config.problem_type === 'regression' || (config.problem_type == null && hfNumLabels(config) === 1) ? 'regression' : 'sequence-classification';
    case 'GPT2LMHeadModel':
      return 'causal-lm';
    default:
      return undefined;
  }
}

/** The HF architecture name of a GPT task. */
export function gptArchitectureForTask(task: GptTask): string {
  return task === 'causal-lm' ? 'GPT2LMHeadModel' : 'GPT2ForSequenceClassification';
}

/** The HF architecture name of a BERT task (what `from_pretrained` in Python should build). */
export function bertArchitectureForTask(task: TaskType | undefined): string {
  switch (task) {
    case 'sequence-classification':
    case 'regression':
      return 'BertForSequenceClassification';
    case 'token-classification':
      return 'BertForTokenClassification';
    case 'masked-lm':
      return 'BertForMaskedLM';
    default:
      return 'BertModel';
  }
}

/** transformers' rule: num_labels, else the size of id2label, else 2. */
export function hfNumLabels(config: { num_labels?: number | undefined; id2label?: Record<string, string> | undefined }): number {
  return config.num_labels ?? (config.id2label ? Object.keys(config.id2label).length : 2);
}

/** The HF name of one of our activations (the inverse of activationFromHf on canonical names). */
export function hfActivationName(name: ActivationName): string {
  return name;
}

/**
 * The label fields of an HF config for a labelled task: `id2label`/`label2id` with transformers'
 * default names (`LABEL_0`, ...), which is how HF records num_labels, and `problem_type`.
 */
export function hfLabelFields(numLabels: number, task: TaskType): Record<string, unknown> {
  const names = Array.from({ length: numLabels }, (_, index) => `LABEL_${index}`);
  const problemType = task === 'regression' ? 'regression' : task === 'sequence-classification' ? 'single_label_classification' : undefined;
  return {
    id2label: Object.fromEntries(names.map((name, index) => [String(index), name])),
    label2id: Object.fromEntries(names.map((name, index) => [name, index])),
    ...(problemType ? { problem_type: problemType } : {}),
  };
}
