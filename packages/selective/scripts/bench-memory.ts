/**
 * Real peak memory of one training step (forward + backward, core's MemoryMeter: each buffer
 * counted once, resident baseline subtracted) for full fine-tuning and token-position selective
 * fine-tuning (Simoulin et al., "Memory-Efficient Selective Fine-Tuning", Figure 2) on the
 * reference BERT (hidden 64, 2 layers), seq 64, k 8, at a few batch sizes. Both train the same
 * parameters (all but the embeddings). LoRA and SFT + LoRA need @peftjs/lora and are not measured here.
 * Prints one JSON object: {backend, seq, k, rows: [{method, batch, peakBytes, ratioToFull}]}.
 * Run: pnpm --filter @peftjs/selective bench:memory
 */
import { BertModel, measurePeakMemory, peft, setGlobalSeed, tf, type Batch, type Parameter, type TaskModel } from '@peftjs/core';
import { tokenSft } from '../src/index';

const SEQ = 64;
const K = 8;
const BATCHES = [4, 16, 32];

function encoder(): BertModel {
  setGlobalSeed(2);
  return new BertModel({ vocabSize: 1000, hiddenSize: 64, numLayers: 2, numHeads: 4, maxPositions: SEQ, hiddenDropout: 0, attentionDropout: 0, numLabels: 2 });
}

function randomBatch(size: number): Batch {
  return {
    inputIds: tf.randomUniform([size, SEQ], 1, 1000, 'int32', 1),
    attentionMask: tf.ones([size, SEQ], 'int32'),
    labels: tf.randomUniform([size], 0, 2, 'int32', 2),
  };
}

function stepPeak(model: TaskModel, parameters: Parameter[], batch: Batch): number {
  const variables = parameters.map((parameter) => parameter.variable);
  return measurePeakMemory(() => {
    const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask), variables);
    tf.dispose([value, ...Object.values(grads)]);
  }).peakBytes;
}

await tf.setBackend('cpu');
await tf.ready();
const rows: Array<{ method: string; batch: number; peakBytes: number; ratioToFull: number }> = [];
for (const size of BATCHES) {
  const batch = randomBatch(size);
  const full = encoder().train();
  const fullPeak = stepPeak(full, full.namedParameters().flatMap(([path, parameter]) => (path.startsWith('embeddings.') ? [] : [parameter])), batch);
  full.dispose();
  rows.push({ method: 'full', batch: size, peakBytes: fullPeak, ratioToFull: 1 });
  const model = encoder().train();
  const tuned = peft(model, [tokenSft({ k: K })]);
  const sftPeak = stepPeak(tuned, tuned.trainableParameters(), batch);
  model.dispose();
  rows.push({ method: 'sft', batch: size, peakBytes: sftPeak, ratioToFull: sftPeak / fullPeak });
  tf.dispose(Object.values(batch));
}
console.log(JSON.stringify({ backend: tf.getBackend(), seq: SEQ, k: K, rows }));
