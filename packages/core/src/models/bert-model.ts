import type { tf } from '../nn/tf';
import { ClassificationHead } from './classification-head';
import { parseBertConfig, type BertConfig, type BertConfigInput } from './config';
import { Embeddings } from './embeddings';
import { FeedForward } from './feed-forward';
import { bertModuleHfName } from './hf-module-names';
import { MaskedLmHead } from './masked-lm-head';
import { MultiHeadAttention } from './multi-head-attention';
import { Pooler } from './pooler';
import { ReferenceTransformer, stripPrompt } from './reference-transformer';
import { crossEntropyLoss, mseLoss, tokenCrossEntropyLoss } from './task-loss';
import { TransformerBlock } from './transformer-block';
import { TransformerStack } from './transformer-stack';
import type { ModelOutput } from './types';

/**
 * A BERT-style encoder with a task head, module for module like HF's BertFor* models
 * (Devlin et al., "BERT", §3): `embeddings`, `encoder.layers.<i>` (post-LN by default),
 * `pooler` (sequence tasks), `head`.
 * - sequence-classification / regression: classifier(dropout(tanh(pooler(h[:, 0])))), cross-entropy / MSE;
 * - token-classification: classifier(dropout(h)) per token, labels −100 ignored;
 * - masked-lm: HF BertOnlyMLMHead with the decoder tied to `embeddings.word`, labels −100 ignored.
 */
export class BertModel extends ReferenceTransformer {
  readonly config: BertConfig;
  readonly task: BertConfig['task'];
  protected readonly stackName = 'encoder';

  constructor(config: BertConfigInput = {}) {
    super();
    const c = parseBertConfig(config);
    this.config = c;
    this.task = c.task;
    this.registerModule(
      'embeddings',
      new Embeddings({
        vocabSize: c.vocabSize,
        hiddenSize: c.hiddenSize,
        maxPositions: c.maxPositions,
        typeVocabSize: c.typeVocabSize,
        layerNorm: true,
        layerNormEps: c.layerNormEps,
        dropout: c.hiddenDropout,
        initStd: c.initStd,
      }),
    );
    const blocks = Array.from(
      { length: c.numLayers },
      () =>
        new TransformerBlock({
          hiddenSize: c.hiddenSize,
          layerNormEps: c.layerNormEps,
          preLayerNorm: c.preLayerNorm,
          attention: new MultiHeadAttention({
            hiddenSize: c.hiddenSize,
            numHeads: c.numHeads,
            attentionDropout: c.attentionDropout,
            outputDropout: c.hiddenDropout,
            fusedQkv: false,
            causal: false,
            initStd: c.initStd,
          }),
          ffn: new FeedForward({ hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, activation: c.activation, dropout: c.hiddenDropout, initStd: c.initStd }),
        }),
    );
    this.registerModule('encoder', new TransformerStack({ blocks, finalNorm: c.preLayerNorm, hiddenSize: c.hiddenSize, layerNormEps: c.layerNormEps }));
    if (c.task === 'masked-lm') {
      this.registerModule('head', new MaskedLmHead({ hiddenSize: c.hiddenSize, vocabSize: c.vocabSize, activation: c.activation, layerNormEps: c.layerNormEps, initStd: c.initStd }));
    } else {
      if (c.task !== 'token-classification') this.registerModule('pooler', new Pooler(c.hiddenSize, c.initStd));
      this.registerModule(
        'head',
        new ClassificationHead({ hiddenSize: c.hiddenSize, numLabels: c.numLabels, dropout: c.hiddenDropout, projectionName: 'classifier', bias: true, initStd: c.initStd }),
      );
    }
  }

  protected headLogits(last: tf.Tensor, promptLength: number): tf.Tensor {
    const head = this.child('head');
    switch (this.task) {
      case 'sequence-classification':
      case 'regression':
        return head.forward(this.child('pooler').forward(last));
      case 'token-classification':
        return head.forward(stripPrompt(last, promptLength));
      case 'masked-lm':
        return head.forward(stripPrompt(last, promptLength), this.wordEmbeddingTable());
    }
  }

  /**
   * The task loss as HF computes it: cross-entropy (mean over examples, or over tokens whose
   * label is not −100 and whose attention mask is 1), or MSE for regression.
   */
  taskLoss(output: ModelOutput, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar {
    switch (this.task) {
      case 'sequence-classification':
        return crossEntropyLoss(output.logits, labels);
      case 'regression':
        return mseLoss(output.logits, labels);
      case 'token-classification':
      case 'masked-lm':
        return tokenCrossEntropyLoss(output.logits, labels, attentionMask);
    }
  }

  protected hfModuleNameOrUndefined(path: string): string | undefined {
    return bertModuleHfName(path, this.task);
  }
}

/** A BERT-style model; every config field is optional (small defaults: 2 layers, hidden 64, 4 heads). */
export function createBert(config: BertConfigInput = {}): BertModel {
  return new BertModel(config);
}
