import { join } from 'node:path';
import { PeftError } from '../errors/peft-error';
import type { ActivationName } from '../nn/activations';
import { tf } from '../nn/tf';
import { BertModel } from '../models/bert-model';
import type { BertConfigInput, BertTask } from '../models/config';
import { BERT_HF_CHECKPOINT } from './hf-bert-names';
import { HF_CONFIG_FILE, HF_WEIGHTS_FILE } from './hf-checkpoint-files';
import { loadHfModel } from './load-hf-model';
import {
  activationFromHf,
  bertArchitectureForTask,
  bertTaskFromHf,
  hfActivationName,
  hfLabelFields,
  hfNumLabels,
  requireHfSetting,
  HfBertConfigSchema,
  type HfBertConfig,
} from './hf-config';
import { collectHfTensors, type HfLoadResult } from './hf-mapping';
import { writeJsonAtomic } from './json-file';
import { saveSafetensors } from './safetensors-file';

export interface LoadHfBertOptions {
  /** The task head to build. Default: the checkpoint's (`architectures[0]`), else sequence-classification. */
  task?: BertTask;
  /** Classes (classification) or outputs (regression). Default: the checkpoint's when its task is the same, else the model default. */
  numLabels?: number;
  /** Leave a head whose stored shape differs (another label count) initialised instead of failing; reported in `info.newlyInitialized`. */
  reinitializeMismatchedHeads?: boolean;
  /** Settings that do not change the weights' shapes (dropout, initStd for new heads). */
  overrides?: Pick<BertConfigInput, 'hiddenDropout' | 'attentionDropout' | 'initStd'>;
}

/**
 * Loads an HF BERT checkpoint directory (config.json + model.safetensors, as `save_pretrained`
 * writes) into a BertModel. Checkpoints of BertFor* models (`bert.` prefix) and of the bare
 * BertModel load alike. Missing backbone tensors, unknown keys and shape mismatches are one
 * PeftError('checkpoint-mismatch') listing them; a head (or pooler) the checkpoint lacks is
 * initialised and listed in `info.newlyInitialized`, as HF does.
 *
 * @example
 * const { model, info } = await loadHfBert('bert-tiny', { task: 'sequence-classification', numLabels: 3 });
 */
export async function loadHfBert(directory: string, options: LoadHfBertOptions = {}): Promise<HfLoadResult<BertModel>> {
  return loadHfModel(
    directory,
    {
      configSchema: HfBertConfigSchema,
      toConfig: (hf) => bertConfigFromHf(hf, options),
      create: (config) => new BertModel(config),
      checkpoint: BERT_HF_CHECKPOINT,
      declaredSizes: (config) => ({
        dimensions: [
          { field: 'vocab_size', value: config.vocabSize, tensor: 'embeddings.word_embeddings.weight', axis: 0 },
          { field: 'hidden_size', value: config.hiddenSize, tensor: 'embeddings.word_embeddings.weight', axis: 1 },
          { field: 'max_position_embeddings', value: config.maxPositions, tensor: 'embeddings.position_embeddings.weight', axis: 0 },
          { field: 'type_vocab_size', value: config.typeVocabSize, tensor: 'embeddings.token_type_embeddings.weight', axis: 0 },
          // HF Linear weights are [out, in].
          { field: 'intermediate_size', value: config.intermediateSize, tensor: 'encoder.layer.0.intermediate.dense.weight', axis: 0 },
        ],
        layers: { field: 'num_hidden_layers', value: config.numLayers, pattern: /(?:^|\.)encoder\.layer\.(\d+)\./ },
        limits: [{ field: 'num_labels', value: config.numLabels, limit: config.vocabSize ?? 0, reason: 'a head wider than the vocabulary' }],
      }),
    },
    options,
  );
}

/** Our BertModel config for an HF BertConfig; settings the reference model cannot reproduce are an error. */
export function bertConfigFromHf(hf: HfBertConfig, options: LoadHfBertOptions = {}): BertConfigInput & { numLayers: number } {
  requireHfSetting('position_embedding_type', hf.position_embedding_type, 'absolute');
  requireHfSetting('is_decoder', hf.is_decoder, false);
  requireHfSetting('add_cross_attention', hf.add_cross_attention, false);
  const checkpointTask = bertTaskFromHf(hf);
  const task = options.task ?? checkpointTask ?? 'sequence-classification';
  const labelled = task !== 'masked-lm';
  const numLabels = labelled ? (options.numLabels ?? (checkpointTask === task ? hfNumLabels(hf) : undefined)) : undefined;
  return {
    vocabSize: hf.vocab_size,
    hiddenSize: hf.hidden_size,
    numLayers: hf.num_hidden_layers,
    numHeads: hf.num_attention_heads,
    intermediateSize: hf.intermediate_size,
    maxPositions: hf.max_position_embeddings,
    typeVocabSize: hf.type_vocab_size,
    layerNormEps: hf.layer_norm_eps,
    hiddenDropout: hf.hidden_dropout_prob,
    attentionDropout: hf.attention_probs_dropout_prob,
    activation: activationFromHf(hf.hidden_act, 'hidden_act'),
    preLayerNorm: false,
    ...(typeof hf['initializer_range'] === 'number' ? { initStd: hf['initializer_range'] } : {}),
    task,
    ...(numLabels !== undefined ? { numLabels } : {}),
    ...options.overrides,
  };
}

/** The HF config.json of one of our BERT models. */
export function bertConfigToHf(model: BertModel): Record<string, unknown> {
  const c = model.config;
  if (c.preLayerNorm || c.typeVocabSize === 0) {
    throw new PeftError('invalid-argument', 'HF BERT is post-LN with a token-type embedding; this model cannot be saved in its layout.', {
      field: c.preLayerNorm ? 'config.preLayerNorm' : 'config.typeVocabSize',
      value: c.preLayerNorm ? true : 0,
      allowed: c.preLayerNorm ? [String(false)] : 'at least 1',
    });
  }
  return {
    architectures: [bertArchitectureForTask(c.task)],
    model_type: 'bert',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize,
    hidden_act: hfActivationName(c.activation as ActivationName),
    hidden_dropout_prob: c.hiddenDropout,
    attention_probs_dropout_prob: c.attentionDropout,
    max_position_embeddings: c.maxPositions,
    type_vocab_size: c.typeVocabSize,
    layer_norm_eps: c.layerNormEps,
    initializer_range: c.initStd,
    position_embedding_type: 'absolute',
    pad_token_id: 0,
    torch_dtype: 'float32',
    ...(c.task === 'masked-lm' ? {} : hfLabelFields(c.numLabels, c.task)),
  };
}

/**
 * Saves a BertModel as an HF checkpoint directory (config.json + model.safetensors, keys with the
 * `bert.` prefix, Linear weights [out, in]) that `BertFor*.from_pretrained(dir)` loads in Python.
 * The directory must exist; both files are written atomically.
 */
export async function saveHfBert(model: BertModel, directory: string): Promise<void> {
  const hfConfig = bertConfigToHf(model);
  const tensors = collectHfTensors(model, BERT_HF_CHECKPOINT.rules, BERT_HF_CHECKPOINT.prefix, model.config.numLayers);
  try {
    await saveSafetensors(join(directory, HF_WEIGHTS_FILE), tensors, { format: 'pt' });
  } finally {
    tf.dispose(Object.values(tensors));
  }
  await writeJsonAtomic(join(directory, HF_CONFIG_FILE), hfConfig);
}
