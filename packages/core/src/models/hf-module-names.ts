import { bertHfModuleName } from '../io/hf-bert-names';
import { gpt2HfModuleName } from '../io/hf-gpt2-names';
import type { TaskType } from './types';

const BERT_PREFIX = 'bert.';
const GPT2_PREFIX = 'transformer.';

/**
 * The HF transformers module name of one of our BERT module paths
 * (`encoder.layers.3.attention.query` -> `bert.encoder.layer.3.attention.self.query`), or
 * undefined when HF has no such module (slots such as `embeddings.prompt`, our `ffn`, dropouts).
 * Leaf names come from io's checkpoint table, the one the loader uses; containers are added here.
 */
export function bertModuleHfName(path: string, task: TaskType): string | undefined {
  if (path === 'head') return task === 'masked-lm' ? 'cls.predictions' : undefined;
  const leaf = bertHfModuleName(path);
  if (leaf !== undefined) return leaf;
  const layer = /^encoder\.layers\.(\d+)(\.attention)?$/.exec(path);
  if (layer) return `${BERT_PREFIX}encoder.layer.${layer[1]}${layer[2] ?? ''}`;
  if (path === 'embeddings' || path === 'encoder' || path === 'pooler') return `${BERT_PREFIX}${path}`;
  return undefined;
}

/**
 * The HF transformers module name of one of our GPT-2 module paths
 * (`decoder.layers.3.attention.qkv` -> `transformer.h.3.attn.c_attn`), or undefined when HF has
 * no such module.
 */
export function gptModuleHfName(path: string, task: TaskType): string | undefined {
  if (path === 'head') return task === 'causal-lm' ? 'lm_head' : undefined;
  if (path === 'head.score') return 'score';
  const leaf = gpt2HfModuleName(path);
  if (leaf !== undefined) return leaf;
  const layer = /^decoder\.layers\.(\d+)(?:\.(attention|ffn))?$/.exec(path);
  if (layer) {
    const sublayer = layer[2] === undefined ? '' : layer[2] === 'attention' ? '.attn' : '.mlp';
    return `${GPT2_PREFIX}h.${layer[1]}${sublayer}`;
  }
  if (path === 'decoder') return GPT2_PREFIX.slice(0, -1);
  return undefined;
}
