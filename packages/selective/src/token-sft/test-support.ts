import { BertModel, SeedStream, TransformerBlock, detach, setGlobalSeed, tf, type Batch, type LayerModule, type ModelOutput, type TaskModel } from '@peftjs/core';
import { TokenSftLayerRunner } from './layer-runner';

/** A tiny post-LN BERT classifier, dropout off, same weights for the same seed. */
export function tinyBert(options: { hiddenSize?: number; numLayers?: number; maxPositions?: number; seed?: number; preLayerNorm?: boolean } = {}): BertModel {
  setGlobalSeed(options.seed ?? 11);
  return new BertModel({
    vocabSize: 40,
    hiddenSize: options.hiddenSize ?? 16,
    numLayers: options.numLayers ?? 2,
    numHeads: 2,
    maxPositions: options.maxPositions ?? 16,
    hiddenDropout: 0,
    attentionDropout: 0,
    numLabels: 3,
    initStd: 0.2,
    preLayerNorm: options.preLayerNorm ?? false,
  });
}

/** A batch of `lengths.length` sequences padded to `seq`. */
export function paddedBatch(lengths: readonly number[], seq: number, seed = 3): Batch {
  const random = new SeedStream(seed);
  const ids = lengths.flatMap((length) => Array.from({ length: seq }, (_, i) => (i < length ? 1 + random.nextInt(39) : 0)));
  const mask = lengths.flatMap((length) => Array.from({ length: seq }, (_, i) => (i < length ? 1 : 0)));
  return {
    inputIds: tf.tensor2d(ids, [lengths.length, seq], 'int32'),
    attentionMask: tf.tensor2d(mask, [lengths.length, seq], 'int32'),
    labels: tf.tensor1d(lengths.map((_, i) => i % 3), 'int32'),
  };
}

/** Forward + task loss, as a trainer computes it. */
export function lossOf(model: TaskModel, batch: Batch): tf.Scalar {
  return model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask);
}

/** The token-sft runner installed on a model, to read the positions of its last step. */
export function installedRunner(model: BertModel): TokenSftLayerRunner {
  const runner = model.layerRunner;
  if (!(runner instanceof TokenSftLayerRunner)) throw new Error('token-sft runner not installed');
  return runner;
}

/** [batch, seq, 1] float mask: 1 at the given positions. */
function rowMask(positions: readonly (readonly number[])[], seq: number): tf.Tensor {
  return tf.tensor3d(positions.map((row) => Array.from({ length: seq }, (_, i) => [row.includes(i) ? 1 : 0])));
}

/** x where mask is 1, detach(x) elsewhere: gradient only through the masked rows. */
function onlyThrough(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.where(tf.greater(tf.broadcastTo(mask, x.shape), 0), x, detach(x));
}

/**
 * The reference loss of selective fine-tuning, written as a plain full forward over every
 * position from the model's own modules: in every layer the unselected rows of the output, and the
 * unselected positions' keys and values inside attention, are replaced by detach() of themselves;
 * the pooler reads the mean of the selected last-layer rows (Eq. 1). No part of the runner is used.
 */
export function referenceLoss(model: BertModel, batch: Batch, positions: readonly (readonly number[])[]): tf.Scalar {
  const [size, seq] = batch.inputIds.shape as [number, number];
  const selected = rowMask(positions, seq);
  const padding = batch.attentionMask ? tf.mul(tf.sub(1, batch.attentionMask.toFloat()), -1e9).reshape([size, 1, 1, seq]) : tf.zeros([size, 1, 1, seq]);
  let hidden = onlyThrough(model.embeddings.forward({ inputIds: batch.inputIds }), selected);
  model.layers().forEach((_layer: LayerModule, index) => {
    const at = (name: string) => model.getModule(`encoder.layers.${index}.${name}`);
    const heads = (x: tf.Tensor) => x.reshape([size, seq, 2, -1]).transpose([0, 2, 1, 3]);
    const preLayerNorm = model.layers()[0] instanceof TransformerBlock && (model.layers()[0] as TransformerBlock).preLayerNorm;
    const attentionInput = preLayerNorm ? at('attentionNorm').forward(hidden) : hidden;
    const query = heads(at('attention.query').forward(attentionInput));
    const key = heads(onlyThrough(at('attention.key').forward(attentionInput), selected));
    const value = heads(onlyThrough(at('attention.value').forward(attentionInput), selected));
    const scores = tf.add(tf.div(tf.matMul(query, key, false, true), Math.sqrt(query.shape[3]!)), padding);
    const attended = at('attention.output').forward(tf.matMul(tf.softmax(scores), value).transpose([0, 2, 1, 3]).reshape([size, seq, -1]));
    let output: tf.Tensor;
    if (preLayerNorm) {
      // Pre-LN: h = x + attention(LN1(x)); out = h + ffn(LN2(h)).
      const afterAttention = tf.add(hidden, attended);
      output = tf.add(afterAttention, at('ffn').forward(at('ffnNorm').forward(afterAttention), {}));
    } else {
      // Post-LN: h = LN1(x + attention(x)); out = LN2(h + ffn(h)).
      const afterAttention = at('attentionNorm').forward(tf.add(hidden, attended));
      output = at('ffnNorm').forward(tf.add(afterAttention, at('ffn').forward(afterAttention, {})));
    }
    hidden = onlyThrough(output, selected);
  });
  const finalNorm = model.stack.maybeChild('finalNorm');
  const last = finalNorm ? finalNorm.forward(hidden) : hidden;
  const mean = tf.div(tf.sum(tf.mul(last, selected), 1), tf.sum(selected, 1));
  const logits = model.getModule('head').forward(tf.tanh(model.getModule('pooler.dense').forward(mean)));
  return model.taskLoss({ logits } as ModelOutput, batch.labels!);
}

/** tf.variableGrads of a loss over the given variables, by variable name (unconnected ones left out). */
export function gradientsOf(loss: () => tf.Scalar, variables: tf.Variable[]): Record<string, tf.Tensor> {
  const { value, grads } = tf.variableGrads(loss, variables);
  value.dispose();
  return grads;
}
