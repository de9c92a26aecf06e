import { describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { bertConfigFromHf } from './hf-bert';
import { HfBertConfigSchema, HfGpt2ConfigSchema, activationFromHf, bertTaskFromHf, hfLabelFields, hfNumLabels } from './hf-config';
import { gptConfigFromHf } from './hf-gpt2';

const bertBase = { vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 };

describe('HF config translation', () => {
  it('derives the task from architectures and problem_type as transformers does', () => {
    const parse = (extra: Record<string, unknown>) => HfBertConfigSchema.parse({ ...bertBase, ...extra });
    expect(bertTaskFromHf(parse({ architectures: ['BertForMaskedLM'] }))).toBe('masked-lm');
    expect(bertTaskFromHf(parse({ architectures: ['BertForPreTraining'] }))).toBe('masked-lm');
    expect(bertTaskFromHf(parse({ architectures: ['BertForTokenClassification'] }))).toBe('token-classification');
    expect(bertTaskFromHf(parse({ architectures: ['BertForSequenceClassification'] }))).toBe('sequence-classification');
    expect(bertTaskFromHf(parse({ architectures: ['BertForSequenceClassification'], num_labels: 1 }))).toBe('regression');
    expect(bertTaskFromHf(parse({ architectures: ['BertForSequenceClassification'], id2label: { 0: 'score' } }))).toBe('regression');
    expect(bertTaskFromHf(parse({ architectures: ['BertForSequenceClassification'], num_labels: 1, problem_type: 'single_label_classification' }))).toBe('sequence-classification');
    expect(bertTaskFromHf(parse({ architectures: ['BertModel'] }))).toBeUndefined();
    expect(hfNumLabels({})).toBe(2);
    expect(hfNumLabels({ id2label: { 0: 'a', 1: 'b', 2: 'c' } })).toBe(3);
  });

  it('maps bert-base-uncased config fields with transformers defaults for absent ones', () => {
    const config = bertConfigFromHf(HfBertConfigSchema.parse({ ...bertBase, architectures: ['BertForMaskedLM'] }), { task: 'sequence-classification', numLabels: 4 });
    expect(config).toMatchObject({
      vocabSize: 30522,
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      intermediateSize: 3072,
      maxPositions: 512,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
      hiddenDropout: 0.1,
      activation: 'gelu',
      preLayerNorm: false,
      task: 'sequence-classification',
      numLabels: 4,
    });
    // The checkpoint's label count only carries over when the task is the checkpoint's own.
    const other = bertConfigFromHf(HfBertConfigSchema.parse({ ...bertBase, architectures: ['BertForTokenClassification'], num_labels: 9 }), { task: 'sequence-classification' });
    expect(other.numLabels).toBeUndefined();
  });

  it('maps GPT-2 config fields: n_inner null is 4 * n_embd, n_ctx stands in for n_positions', () => {
    const hf = HfGpt2ConfigSchema.parse({ vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12, n_ctx: 1024, n_inner: null, resid_pdrop: 0.2 });
    expect(gptConfigFromHf(hf)).toMatchObject({
      hiddenSize: 768,
      intermediateSize: 3072,
      maxPositions: 1024,
      layerNormEps: 1e-5,
      activation: 'gelu_new',
      hiddenDropout: 0.2,
      embeddingDropout: 0.1,
      preLayerNorm: true,
      typeVocabSize: 0,
      task: 'causal-lm',
    });
    const untied = HfGpt2ConfigSchema.parse({ vocab_size: 10, n_embd: 8, n_layer: 1, n_head: 2, tie_word_embeddings: false });
    expect(() => gptConfigFromHf(untied)).toThrow(PeftError);
  });

  it('maps activation names and writes label fields', () => {
    expect(activationFromHf('gelu_pytorch_tanh', 'hidden_act')).toBe('gelu_new');
    expect(activationFromHf('swish', 'hidden_act')).toBe('silu');
    expect(() => activationFromHf('mish', 'hidden_act')).toThrow(/not supported/);
    expect(hfLabelFields(2, 'sequence-classification')).toEqual({
      id2label: { 0: 'LABEL_0', 1: 'LABEL_1' },
      label2id: { LABEL_0: 0, LABEL_1: 1 },
      problem_type: 'single_label_classification',
    });
    expect(hfLabelFields(3, 'token-classification')).not.toHaveProperty('problem_type');
  });
});
