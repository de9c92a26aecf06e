import { createHash } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PeftError, createBert, loadHfBert, setGlobalSeed, writeFileAtomic, type BertConfigInput, type BertModel, type BertTask } from '@peftjs/core';
import type { BenchTask } from '../tasks/task';
import { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import type { WordPieceTokenizerJson } from '../tokenizer/tokenizer-json';
import { trainWordPiece } from '../tokenizer/wordpiece-trainer';
import type { LearningRates } from './method-spec';
import { trainTexts } from './tokenize-task';

/** What the runner asks a backbone for a fresh model with. */
export interface BackboneModelRequest {
  task: BertTask;
  /** Classes (classification) or outputs (regression). */
  numLabels: number;
  /** The run's seed: new weights (the whole model for a scratch backbone, the head for a pretrained one) come from it. */
  seed: number;
}

/** A backbone ready for one task: its tokenizer and a factory of fresh models. */
export interface PreparedBackbone {
  name: string;
  tokenizer: BenchTokenizer;
  /** Longest input in tokens (special tokens included). */
  maxLength: number;
  /** The architecture, as recorded in the results. */
  config: Record<string, unknown>;
  /** Learning rates that suit this backbone, under the caller's (e.g. higher for full fine-tuning from a random init). */
  learningRates?: LearningRates;
  /** A new model with the base weights (each run gets its own copy, so runs never share trained state). */
  createModel(request: BackboneModelRequest): Promise<BertModel>;
  /** How another process makes the same models (the worker pool); absent when it cannot. */
  recipe?: BackboneRecipe;
}

/** Serializable instructions that make the same models as a PreparedBackbone's createModel, in another process. */
export type BackboneRecipe = { kind: 'bert-config'; config: Omit<BertConfigInput, 'task' | 'numLabels'> } | { kind: 'hf-bert'; directory: string };

/** A fresh model from a recipe: what createModel of the backbone that wrote it returns for the same request. */
export async function createModelFromRecipe(recipe: BackboneRecipe, { task, numLabels, seed }: BackboneModelRequest): Promise<BertModel> {
  setGlobalSeed(seed);
  if (recipe.kind === 'bert-config') return createBert({ ...recipe.config, task, numLabels });
  const { model } = await loadHfBert(recipe.directory, { task, numLabels, reinitializeMismatchedHeads: true });
  return model;
}

/**
 * Where the base model of a comparison comes from. A provider prepares once per task (tokenizer,
 * config) and then makes a fresh model per run. `scratchBackbone` (a seeded random init with a
 * WordPiece tokenizer trained on the task) and `hfBertBackbone` (a Hugging Face BERT checkpoint
 * directory with its tokenizer.json) implement it; a pretrained embedded backbone is one more.
 */
export interface BackboneProvider {
  readonly name: string;
  prepare(task: BenchTask): Promise<PreparedBackbone>;
}

/** Size of a backbone initialised from scratch. */
export interface ScratchBackboneOptions {
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  intermediateSize?: number;
  /** WordPiece vocabulary trained on the task's train split. Default 2000. */
  vocabSize?: number;
  /** Default 64. */
  maxLength?: number;
  /** Use this tokenizer instead of training one. */
  tokenizer?: BenchTokenizer;
  /** Where trained tokenizers are cached. Default `$PEFTJS_CACHE_DIR`, else `~/.cache/peftjs`. */
  cacheDir?: string;
  /** Dropout of hidden states and attention. Default 0.1. */
  dropout?: number;
}

/** A BERT-style encoder with seeded random weights, sized for the task. */
export function scratchBackbone(options: ScratchBackboneOptions = {}): BackboneProvider {
  const hiddenSize = options.hiddenSize ?? 64;
  const numLayers = options.numLayers ?? 2;
  const numHeads = options.numHeads ?? 4;
  const intermediateSize = options.intermediateSize ?? 4 * hiddenSize;
  const maxLength = options.maxLength ?? 64;
  const dropout = options.dropout ?? 0.1;
  const name = `bert-scratch-h${hiddenSize}-l${numLayers}`;
  return {
    name,
    async prepare(task) {
      const tokenizer = options.tokenizer ?? (await cachedTaskTokenizer(task, options.vocabSize ?? 2000, options.cacheDir ?? defaultCacheDir()));
      const config = { hiddenSize, numLayers, numHeads, intermediateSize, vocabSize: tokenizer.vocabSize, maxPositions: maxLength, hiddenDropout: dropout, attentionDropout: dropout };
      return {
        name,
        tokenizer,
        maxLength,
        config: { ...config, init: 'random (seeded per run)' },
        // A random init has nothing to preserve: full fine-tuning learns at the PEFT methods' rate.
        learningRates: { full: 3e-3 },
        recipe: { kind: 'bert-config', config },
        createModel: (request) => createModelFromRecipe({ kind: 'bert-config', config }, request),
      };
    },
  };
}

/**
 * A Hugging Face BERT checkpoint directory: config.json, model.safetensors and tokenizer.json.
 * The tokenizer must be a WordPiece tokenizer.json with the bench's special ids
 * ([PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4), as the bench's own tokenizers have.
 */
export function hfBertBackbone(directory: string, options: { maxLength?: number; name?: string } = {}): BackboneProvider {
  const name = options.name ?? directory.split(/[\\/]/).filter(Boolean).pop() ?? directory;
  return {
    name,
    async prepare() {
      const tokenizerPath = join(directory, 'tokenizer.json');
      for (const file of ['config.json', 'tokenizer.json']) {
        try {
          await access(join(directory, file));
        } catch {
          throw new PeftError('invalid-argument', `Invalid model: ${JSON.stringify(directory)} has no ${file}; allowed: a Hugging Face BERT directory with config.json, model.safetensors and tokenizer.json.`, {
            field: 'model',
            value: directory,
            allowed: 'a Hugging Face BERT directory with config.json, model.safetensors and tokenizer.json',
          });
        }
      }
      const tokenizer = await BenchTokenizer.fromFile(tokenizerPath);
      const hfConfig = JSON.parse(await readFile(join(directory, 'config.json'), 'utf8')) as Record<string, unknown>;
      const maxPositions = typeof hfConfig.max_position_embeddings === 'number' ? hfConfig.max_position_embeddings : 512;
      const maxLength = Math.min(options.maxLength ?? 128, maxPositions);
      return {
        name,
        tokenizer,
        maxLength,
        config: { source: directory, ...pick(hfConfig, ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size', 'max_position_embeddings']) },
        recipe: { kind: 'hf-bert', directory },
        createModel: (request) => createModelFromRecipe({ kind: 'hf-bert', directory }, request),
      };
    },
  };
}

function pick(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => record[key] !== undefined).map((key) => [key, record[key]]));
}

function defaultCacheDir(): string {
  return process.env.PEFTJS_CACHE_DIR ?? join(homedir(), '.cache', 'peftjs');
}

/** A WordPiece tokenizer trained on the task's train split, cached by a hash of the texts and size. */
export async function cachedTaskTokenizer(task: BenchTask, vocabSize: number, cacheDir: string): Promise<BenchTokenizer> {
  const texts = trainTexts(task);
  const hash = createHash('sha256').update(`wordpiece-v1\n${vocabSize}\n`);
  for (const text of texts) hash.update(text).update('\n');
  const path = join(cacheDir, 'tokenizers', `${task.name}-${vocabSize}-${hash.digest('hex').slice(0, 16)}.json`);
  try {
    return BenchTokenizer.fromJson(JSON.parse(await readFile(path, 'utf8')) as WordPieceTokenizerJson);
  } catch {
    const { tokenizerJson } = trainWordPiece(texts, { vocabSize });
    await mkdir(join(cacheDir, 'tokenizers'), { recursive: true });
    await writeFileAtomic(path, JSON.stringify(tokenizerJson));
    return BenchTokenizer.fromJson(tokenizerJson);
  }
}
