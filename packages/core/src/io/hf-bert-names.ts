import { hfModuleNameFor, type HfCheckpointSpec, type HfModuleRule } from './hf-mapping';

/**
 * Our BERT module paths and their names in HF `transformers` (modeling_bert.py). The one table
 * both the checkpoint loader/saver and adapter file converters (LoRA keys) read.
 */
export const BERT_HF_MODULES: readonly HfModuleRule[] = [
  { module: 'embeddings.word', hf: 'embeddings.word_embeddings', kind: 'embedding', group: 'backbone' },
  { module: 'embeddings.position', hf: 'embeddings.position_embeddings', kind: 'embedding', group: 'backbone' },
  { module: 'embeddings.tokenType', hf: 'embeddings.token_type_embeddings', kind: 'embedding', group: 'backbone' },
  { module: 'embeddings.norm', hf: 'embeddings.LayerNorm', kind: 'layer-norm', group: 'backbone' },
  { module: 'encoder.layers.{layer}.attention.query', hf: 'encoder.layer.{layer}.attention.self.query', kind: 'linear', group: 'backbone' },
  { module: 'encoder.layers.{layer}.attention.key', hf: 'encoder.layer.{layer}.attention.self.key', kind: 'linear', group: 'backbone' },
  { module: 'encoder.layers.{layer}.attention.value', hf: 'encoder.layer.{layer}.attention.self.value', kind: 'linear', group: 'backbone' },
  { module: 'encoder.layers.{layer}.attention.output', hf: 'encoder.layer.{layer}.attention.output.dense', kind: 'linear', group: 'backbone' },
  { module: 'encoder.layers.{layer}.attentionNorm', hf: 'encoder.layer.{layer}.attention.output.LayerNorm', kind: 'layer-norm', group: 'backbone' },
  { module: 'encoder.layers.{layer}.ffn.up', hf: 'encoder.layer.{layer}.intermediate.dense', kind: 'linear', group: 'backbone' },
  { module: 'encoder.layers.{layer}.ffn.down', hf: 'encoder.layer.{layer}.output.dense', kind: 'linear', group: 'backbone' },
  { module: 'encoder.layers.{layer}.ffnNorm', hf: 'encoder.layer.{layer}.output.LayerNorm', kind: 'layer-norm', group: 'backbone' },
  { module: 'pooler.dense', hf: 'pooler.dense', kind: 'linear', group: 'pooler' },
  { module: 'head.classifier', hf: 'classifier', kind: 'linear', group: 'head', absolute: true },
  { module: 'head.transform', hf: 'cls.predictions.transform.dense', kind: 'linear', group: 'head', absolute: true },
  { module: 'head.norm', hf: 'cls.predictions.transform.LayerNorm', kind: 'layer-norm', group: 'head', absolute: true },
  { module: 'head', hf: 'cls.predictions.bias', kind: 'bias', group: 'head', absolute: true },
];

/** The BERT checkpoint conventions beyond the name table. */
export const BERT_HF_CHECKPOINT: HfCheckpointSpec = {
  rules: BERT_HF_MODULES,
  prefix: 'bert.',
  tied: [
    // The MLM decoder shares the word embeddings and `cls.predictions.bias`.
    { hfKey: 'cls.predictions.decoder.weight', sameAs: '{prefix}embeddings.word_embeddings.weight' },
    { hfKey: 'cls.predictions.decoder.bias', sameAs: 'cls.predictions.bias' },
  ],
  ignored: [/^embeddings\.position_ids$/, /^embeddings\.token_type_ids$/],
  otherHeads: [/^cls\./, /^classifier\./, /^qa_outputs\./],
};

/** The HF module name (`bert.encoder.layer.0.attention.self.query`) of one of our BERT module paths. */
export function bertHfModuleName(path: string, options: { prefix?: string } = {}): string | undefined {
  return hfModuleNameFor(BERT_HF_MODULES, path, options.prefix ?? BERT_HF_CHECKPOINT.prefix);
}
