import { join } from 'node:path';
import type { tf } from '@peftjs/core';
import { PeftError, loadSafetensors } from '@peftjs/core';
import { HF_PROMPT_EMBEDDINGS } from '../shared/hf-prompt-files';
import { promptSimilarity, type PromptSimilarityMetric } from './prompt-similarity';

/**
 * Reads the soft prompt [P, hidden] of a saved adapter: HF PEFT's PROMPT_TUNING / P_TUNING file
 * (`prompt_embeddings`) or a peftjs prompt-tuning / SPoT / P-tuning-table adapter (the `embedding`
 * of the embeddings' prompt slot). The caller owns the tensor.
 */
export async function readSourcePrompt(dir: string): Promise<tf.Tensor2D> {
  const { tensors } = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
  const keys = Object.keys(tensors);
  const key = keys.includes(HF_PROMPT_EMBEDDINGS) ? HF_PROMPT_EMBEDDINGS : keys.find((name) => /embeddings\.prompt\.[^.]+\.embedding$/.test(name));
  const chosen = key ? tensors[key] : undefined;
  for (const [name, tensor] of Object.entries(tensors)) if (name !== key) tensor.dispose();
  if (!chosen || chosen.rank !== 2) {
    chosen?.dispose();
    throw new PeftError('checkpoint-mismatch', `No soft prompt [P, hidden] in ${dir} (looked for ${HF_PROMPT_EMBEDDINGS} or embeddings.prompt.*.embedding).`, { field: 'dir', value: keys, allowed: [HF_PROMPT_EMBEDDINGS, 'embeddings.prompt.<adapter>_<method>.embedding'] });
  }
  return chosen as tf.Tensor2D;
}

/** A source prompt to transfer from. */
export interface SourcePrompt {
  name: string;
  rows: tf.Tensor;
}

/** The result of SPoT's retrieval: sources ranked by similarity to the target task's prompt, best first. */
export interface SpotChoice {
  best: SourcePrompt;
  ranking: Array<{ name: string; similarity: number }>;
  /** The `spot` config that starts from the best source. */
  config: { numVirtualTokens: number; sourceRows: number[][]; sourceName: string };
}

/**
 * SPoT's targeted transfer (Vu et al. §4.2): the target task's embedding is a prompt briefly tuned on
 * it (`targetPrompt`); the source whose prompt is most similar (cosine, §4.1) is chosen, and its
 * prompt initialises the target's prompt tuning.
 */
export function chooseSpotSource(targetPrompt: tf.Tensor, sources: readonly SourcePrompt[], metric: PromptSimilarityMetric = 'average-tokens'): SpotChoice {
  if (sources.length === 0) throw new PeftError('invalid-argument', 'chooseSpotSource needs at least one source prompt.', { field: 'sources', value: [], allowed: 'one or more { name, rows }' });
  const ranking = sources.map((source) => ({ name: source.name, similarity: promptSimilarity(targetPrompt, source.rows, metric) })).sort((a, b) => b.similarity - a.similarity);
  const best = sources.find((source) => source.name === ranking[0]!.name)!;
  return { best, ranking, config: { numVirtualTokens: best.rows.shape[0]!, sourceRows: best.rows.arraySync() as number[][], sourceName: best.name } };
}
