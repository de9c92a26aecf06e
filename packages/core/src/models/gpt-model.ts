import { tf } from '../nn/tf';
import { ClassificationHead } from './classification-head';
import { parseGptConfig, type GptConfig, type GptConfigInput } from './config';
import { Embeddings } from './embeddings';
import { FeedForward } from './feed-forward';
import { gptModuleHfName } from './hf-module-names';
import { MultiHeadAttention } from './multi-head-attention';
import { ReferenceTransformer, stripPrompt } from './reference-transformer';
import { causalLmLoss, crossEntropyLoss, mseLoss } from './task-loss';
import { TiedLmHead } from './tied-lm-head';
import { TransformerBlock } from './transformer-block';
import { TransformerStack } from './transformer-stack';
import type { ModelOutput } from './types';

/**
 * A GPT-2-style causal decoder (Radford et al., "Language Models are Unsupervised Multitask
 * Learners", §2.3), module for module like HF's GPT2 models: `embeddings` (wte, wpe),
 * `decoder.layers.<i>` (pre-LN, fused qkv, causal), `decoder.finalNorm` (ln_f), `head`.
 * - causal-lm: `head` is the LM head tied to `embeddings.word` (no bias); the loss shifts labels by one;
 * - sequence-classification / regression: `head.score` (no bias) on the last real token.
 * Output projections are initialised with std initStd/√(2·numLayers), as GPT-2 does.
 */
export class GptModel extends ReferenceTransformer {
  readonly config: GptConfig;
  readonly task: GptConfig['task'];
  protected readonly stackName = 'decoder';

  constructor(config: GptConfigInput = {}) {
    super();
    const c = parseGptConfig(config);
    this.config = c;
    this.task = c.task;
    this.registerModule(
      'embeddings',
      new Embeddings({
        vocabSize: c.vocabSize,
        hiddenSize: c.hiddenSize,
        maxPositions: c.maxPositions,
        typeVocabSize: 0,
        layerNorm: false,
        layerNormEps: c.layerNormEps,
        dropout: c.embeddingDropout,
        initStd: c.initStd,
      }),
    );
    const residualInitStd = c.initStd / Math.sqrt(2 * c.numLayers);
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
            fusedQkv: true,
            causal: true,
            initStd: c.initStd,
            outputInitStd: residualInitStd,
          }),
          ffn: new FeedForward({
            hiddenSize: c.hiddenSize,
            intermediateSize: c.intermediateSize,
            activation: c.activation,
            dropout: c.hiddenDropout,
            initStd: c.initStd,
            downInitStd: residualInitStd,
          }),
        }),
    );
    this.registerModule('decoder', new TransformerStack({ blocks, finalNorm: c.preLayerNorm, hiddenSize: c.hiddenSize, layerNormEps: c.layerNormEps }));
    if (c.task === 'causal-lm') this.registerModule('head', new TiedLmHead());
    else this.registerModule('head', new ClassificationHead({ hiddenSize: c.hiddenSize, numLabels: c.numLabels, dropout: 0, projectionName: 'score', bias: false, initStd: c.initStd }));
  }

  protected headLogits(last: tf.Tensor, promptLength: number, attentionMask: tf.Tensor | undefined): tf.Tensor {
    if (this.task === 'causal-lm') return this.child('head').forward(stripPrompt(last, promptLength), this.wordEmbeddingTable());
    return this.child('head').forward(lastRealToken(last, attentionMask));
  }

  /**
   * causal-lm: HF's shifted cross-entropy (logits at t predict the label at t + 1), skipping
   * labels −100 and positions whose attention mask is 0; classification: cross-entropy; regression: MSE.
   */
  taskLoss(output: ModelOutput, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar {
    switch (this.task) {
      case 'causal-lm':
        return causalLmLoss(output.logits, labels, attentionMask);
      case 'sequence-classification':
        return crossEntropyLoss(output.logits, labels);
      case 'regression':
        return mseLoss(output.logits, labels);
    }
  }

  protected hfModuleNameOrUndefined(path: string): string | undefined {
    return gptModuleHfName(path, this.task);
  }
}

/**
 * hidden [batch, seq, hidden] at each row's last position whose mask is 1 ([batch, hidden]),
 * like HF GPT2ForSequenceClassification's `(token_indices * non_pad_mask).argmax(-1)`; the last
 * position without a mask.
 */
function lastRealToken(hidden: tf.Tensor, attentionMask: tf.Tensor | undefined): tf.Tensor {
  return tf.tidy(() => {
    const [batch, length, size] = hidden.shape as [number, number, number];
    if (!attentionMask) return hidden.slice([0, length - 1, 0], [batch, 1, size]).reshape([batch, size]);
    const lastIndex = tf.argMax(tf.mul(attentionMask, tf.range(0, length, 1, 'float32')), 1);
    const select = tf.oneHot(lastIndex, length, 1, 0, 'float32').reshape([batch, length, 1]);
    return tf.sum(tf.mul(hidden, select), 1);
  });
}

/** A GPT-2-style model; every config field is optional (small defaults: 2 layers, hidden 64, 4 heads). */
export function createGpt(config: GptConfigInput = {}): GptModel {
  return new GptModel(config);
}
