import { hfModuleNameFor, type HfCheckpointSpec, type HfModuleRule } from './hf-mapping';

/**
 * Our GPT-2 module paths and their names in HF `transformers` (modeling_gpt2.py). GPT-2's
 * projections are Conv1D modules whose weight is already [in, out], so nothing is transposed,
 * and `c_attn` is the fused query/key/value projection [hidden, 3 * hidden] like our `qkv`.
 */
export const GPT2_HF_MODULES: readonly HfModuleRule[] = [
  { module: 'embeddings.word', hf: 'wte', kind: 'embedding', group: 'backbone' },
  { module: 'embeddings.position', hf: 'wpe', kind: 'embedding', group: 'backbone' },
  { module: 'decoder.layers.{layer}.attentionNorm', hf: 'h.{layer}.ln_1', kind: 'layer-norm', group: 'backbone' },
  { module: 'decoder.layers.{layer}.attention.qkv', hf: 'h.{layer}.attn.c_attn', kind: 'conv1d', group: 'backbone' },
  { module: 'decoder.layers.{layer}.attention.output', hf: 'h.{layer}.attn.c_proj', kind: 'conv1d', group: 'backbone' },
  { module: 'decoder.layers.{layer}.ffnNorm', hf: 'h.{layer}.ln_2', kind: 'layer-norm', group: 'backbone' },
  { module: 'decoder.layers.{layer}.ffn.up', hf: 'h.{layer}.mlp.c_fc', kind: 'conv1d', group: 'backbone' },
  { module: 'decoder.layers.{layer}.ffn.down', hf: 'h.{layer}.mlp.c_proj', kind: 'conv1d', group: 'backbone' },
  { module: 'decoder.finalNorm', hf: 'ln_f', kind: 'layer-norm', group: 'backbone' },
  // GPT2ForSequenceClassification's head: a Linear without bias.
  { module: 'head.score', hf: 'score', kind: 'linear', group: 'head', absolute: true },
];

/** The GPT-2 checkpoint conventions beyond the name table. */
export const GPT2_HF_CHECKPOINT: HfCheckpointSpec = {
  rules: GPT2_HF_MODULES,
  prefix: 'transformer.',
  // The LM head is tied to the token embeddings; checkpoints store it once, either way round.
  tied: [{ hfKey: 'lm_head.weight', sameAs: '{prefix}wte.weight' }],
  // The causal-mask buffers older transformers versions saved.
  ignored: [/^h\.\d+\.attn\.(bias|masked_bias)$/],
  otherHeads: [/^score\./, /^multiple_choice_head\./],
};

/** The HF module name (`transformer.h.0.attn.c_attn`) of one of our GPT-2 module paths. */
export function gpt2HfModuleName(path: string, options: { prefix?: string } = {}): string | undefined {
  return hfModuleNameFor(GPT2_HF_MODULES, path, options.prefix ?? GPT2_HF_CHECKPOINT.prefix);
}
