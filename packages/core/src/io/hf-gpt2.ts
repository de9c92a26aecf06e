import { join } from 'node:path';
import { PeftError } from '../errors/peft-error';
import type { ActivationName } from '../nn/activations';
import { tf } from '../nn/tf';
import type { GptConfigInput, GptTask } from '../models/config';
import { GptModel } from '../models/gpt-model';
import { HF_CONFIG_FILE, HF_WEIGHTS_FILE } from './hf-checkpoint-files';
import { loadHfModel } from './load-hf-model';
import {
  activationFromHf,
  gptArchitectureForTask,
  gptTaskFromHf,
  hfActivationName,
  hfLabelFields,
  hfNumLabels,
  requireHfSetting,
  HfGpt2ConfigSchema,
  type HfGpt2Config,
} from './hf-config';
import { GPT2_HF_CHECKPOINT } from './hf-gpt2-names';
import { collectHfTensors, type HfLoadResult } from './hf-mapping';
import { writeJsonAtomic } from './json-file';
import { saveSafetensors } from './safetensors-file';

export interface LoadHfGpt2Options {
  /** The task head to build. Default: the checkpoint's (`architectures[0]`), else causal-lm. */
  task?: GptTask;
  /** Classes (classification) or outputs (regression). Default: the checkpoint's when its task is the same. */
  numLabels?: number;
  /** Leave a head whose stored shape differs (another label count) initialised instead of failing; reported in `info.newlyInitialized`. */
  reinitializeMismatchedHeads?: boolean;
  /** Settings that do not change the weights' shapes (dropout, initStd for new heads). */
  overrides?: Pick<GptConfigInput, 'hiddenDropout' | 'attentionDropout' | 'embeddingDropout' | 'initStd'>;
}

/**
 * Loads an HF GPT-2 checkpoint directory (config.json + model.safetensors) into a GptModel.
 * Checkpoints of GPT2LMHeadModel (`transformer.` prefix) and of the bare GPT2Model (the original
 * `gpt2` files) load alike; `c_attn` is the fused qkv projection, and Conv1D weights are already
 * [in, out]. The LM head is tied: `lm_head.weight`, when stored, must equal `wte`. The causal-mask
 * buffers `attn.bias`/`attn.masked_bias` are skipped.
 *
 * @example
 * const { model } = await loadHfGpt2('distilgpt2');
 */
export async function loadHfGpt2(directory: string, options: LoadHfGpt2Options = {}): Promise<HfLoadResult<GptModel>> {
  return loadHfModel(
    directory,
    {
      configSchema: HfGpt2ConfigSchema,
      toConfig: (hf) => gptConfigFromHf(hf, options),
      create: (config) => new GptModel(config),
      checkpoint: GPT2_HF_CHECKPOINT,
      declaredSizes: (config) => ({
        dimensions: [
          { field: 'vocab_size', value: config.vocabSize, tensor: 'wte.weight', axis: 0 },
          { field: 'n_embd', value: config.hiddenSize, tensor: 'wte.weight', axis: 1 },
          { field: 'n_positions', value: config.maxPositions, tensor: 'wpe.weight', axis: 0 },
          // HF GPT-2's Conv1D weights are [in, out].
          { field: 'n_inner', value: config.intermediateSize, tensor: 'h.0.mlp.c_fc.weight', axis: 1 },
        ],
        layers: { field: 'n_layer', value: config.numLayers, pattern: /(?:^|\.)h\.(\d+)\./ },
        limits: [{ field: 'num_labels', value: config.numLabels, limit: config.vocabSize ?? 0, reason: 'a head wider than the vocabulary' }],
      }),
    },
    options,
  );
}

/** Our GptModel config for an HF GPT2Config; settings the reference model cannot reproduce are an error. */
export function gptConfigFromHf(hf: HfGpt2Config, options: LoadHfGpt2Options = {}): GptConfigInput & { numLayers: number } {
  requireHfSetting('scale_attn_weights', hf.scale_attn_weights, true);
  requireHfSetting('scale_attn_by_inverse_layer_idx', hf.scale_attn_by_inverse_layer_idx, false);
  requireHfSetting('add_cross_attention', hf.add_cross_attention, false);
  requireHfSetting('tie_word_embeddings', hf.tie_word_embeddings, true);
  const checkpointTask = gptTaskFromHf(hf);
  const task = options.task ?? checkpointTask ?? 'causal-lm';
  const numLabels = task === 'causal-lm' ? undefined : (options.numLabels ?? (checkpointTask === task ? hfNumLabels(hf) : undefined));
  return {
    vocabSize: hf.vocab_size,
    hiddenSize: hf.n_embd,
    numLayers: hf.n_layer,
    numHeads: hf.n_head,
    intermediateSize: hf.n_inner ?? 4 * hf.n_embd,
    maxPositions: hf.n_positions ?? hf.n_ctx ?? 1024,
    typeVocabSize: 0,
    layerNormEps: hf.layer_norm_epsilon,
    hiddenDropout: hf.resid_pdrop,
    attentionDropout: hf.attn_pdrop,
    embeddingDropout: hf.embd_pdrop,
    activation: activationFromHf(hf.activation_function, 'activation_function'),
    preLayerNorm: true,
    ...(typeof hf['initializer_range'] === 'number' ? { initStd: hf['initializer_range'] } : {}),
    task,
    ...(numLabels !== undefined ? { numLabels } : {}),
    ...options.overrides,
  };
}

/** The HF config.json of one of our GPT models. */
export function gptConfigToHf(model: GptModel): Record<string, unknown> {
  const c = model.config;
  if (!c.preLayerNorm) {
    throw new PeftError('invalid-argument', 'HF GPT-2 is pre-LN; a post-LN GptModel cannot be saved in its layout.', {
      field: 'config.preLayerNorm',
      value: false,
      allowed: [String(true)],
    });
  }
  return {
    architectures: [gptArchitectureForTask(c.task)],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_embd: c.hiddenSize,
    n_layer: c.numLayers,
    n_head: c.numHeads,
    n_inner: c.intermediateSize,
    n_positions: c.maxPositions,
    n_ctx: c.maxPositions,
    activation_function: hfActivationName(c.activation as ActivationName),
    resid_pdrop: c.hiddenDropout,
    attn_pdrop: c.attentionDropout,
    embd_pdrop: c.embeddingDropout,
    layer_norm_epsilon: c.layerNormEps,
    initializer_range: c.initStd,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    ...(c.task === 'causal-lm' ? {} : hfLabelFields(c.numLabels, c.task)),
  };
}

/**
 * Saves a GptModel as an HF checkpoint directory (config.json + model.safetensors, keys with the
 * `transformer.` prefix, the tied LM head not stored, as `save_pretrained` does) that
 * `GPT2LMHeadModel.from_pretrained(dir)` loads in Python. The directory must exist.
 */
export async function saveHfGpt2(model: GptModel, directory: string): Promise<void> {
  const hfConfig = gptConfigToHf(model);
  const tensors = collectHfTensors(model, GPT2_HF_CHECKPOINT.rules, GPT2_HF_CHECKPOINT.prefix, model.config.numLayers);
  try {
    await saveSafetensors(join(directory, HF_WEIGHTS_FILE), tensors, { format: 'pt' });
  } finally {
    tf.dispose(Object.values(tensors));
  }
  await writeJsonAtomic(join(directory, HF_CONFIG_FILE), hfConfig);
}
