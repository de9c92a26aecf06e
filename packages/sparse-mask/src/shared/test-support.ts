import { Trainer, createGpt, peft, setGlobalSeed, tf, type Batch, type CalibrationContext, type MethodConfig, type Parameter, type PeftModel } from '@peftjs/core';
import type { SparseDelta } from '../sparse-delta/sparse-delta';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';

/** A 2-layer GPT-2 classifier of the conformance suite's size. */
export function createConformanceGpt(): ConformanceModel {
  setGlobalSeed(4321);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 }) as unknown as ConformanceModel;
}

/** Labelled batches for training and calibration tests. */
export function trainingBatches(model: ConformanceModel, count: number, batch = 4): Batch[] {
  return Array.from({ length: count }, (_, i) => conformanceBatch(model, { batch, seq: 6, seed: 100 + i }));
}

/**
 * Analytic gradient of an O(1) loss (a fixed random projection of the last hidden states and
 * logits, never constant) with respect to `parameter` at `entries`, against central differences.
 */
export function gradientCheck(tuned: PeftModel<ConformanceModel>, parameter: Parameter, entries: readonly number[], epsilon = 1e-2): { analytic: number[]; numeric: number[] } {
  const batch = conformanceBatch(tuned.model);
  const projection = tf.tidy(() => {
    const output = tuned.forward(batch);
    return [tf.randomNormal(output.lastHiddenState.shape, 0, 1, 'float32', 11), tf.randomNormal(output.logits.shape, 0, 1, 'float32', 12)] as const;
  });
  const loss = () => tf.tidy(() => {
    const output = tuned.forward(batch);
    return tf.add(tf.sum(tf.mul(output.lastHiddenState, projection[0])), tf.sum(tf.mul(output.logits, projection[1]))) as tf.Scalar;
  });
  const { value, grads } = tf.variableGrads(loss, [parameter.variable]);
  const gradient = grads[parameter.variable.name]!.dataSync();
  const analytic = entries.map((i) => gradient[i]!);
  tf.dispose([value, ...Object.values(grads)]);
  const numeric = entries.map((i) => {
    const at = (shift: number) => {
      const values = Float32Array.from(parameter.variable.dataSync() as Float32Array);
      const original = values[i]!;
      values[i] = original + shift;
      const tensor = tf.tensor(values, parameter.shape);
      parameter.assign(tensor);
      tensor.dispose();
      const result = loss();
      const number = result.dataSync()[0]!;
      result.dispose();
      values[i] = original;
      const back = tf.tensor(values, parameter.shape);
      parameter.assign(back);
      back.dispose();
      return number;
    };
    return (at(epsilon) - at(-epsilon)) / (2 * epsilon);
  });
  tf.dispose([...projection]);
  disposeBatch(batch);
  return { analytic, numeric };
}

/** Seeded noise on the trainable parameters, as the conformance suite's default perturbation. */
export function perturbTrainable(tuned: PeftModel<ConformanceModel>, std = 0.3, seed = 5): void {
  tuned.trainableParameters().forEach((parameter, i) => tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, std, 'float32', seed + i)))));
}

/**
 * Trains `methods` on a tiny BERT for `steps` steps with the trainer (calibration included) and
 * returns the mean task loss on the training batches before and after, and the tuned model.
 */
export async function trainBriefly(methods: MethodConfig[], options: { steps?: number; learningRate?: number; createModel?: () => ConformanceModel } = {}) {
  const model = (options.createModel ?? (() => createConformanceBert()))();
  const data = trainingBatches(model, 6);
  const meanLoss = (target: PeftModel<ConformanceModel>) => {
    target.model.eval();
    const losses = data.map((batch) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!));
    return losses.reduce((a, b) => a + b, 0) / losses.length;
  };
  const tuned = peft(model, methods);
  const before = meanLoss(tuned);
  const trainer = new Trainer(tuned, { data, learningRate: options.learningRate ?? 3e-2, maxSteps: options.steps ?? 30, shuffle: false, calibrationBatches: 4, maxGradNorm: null });
  const result = await trainer.train();
  trainer.dispose();
  const after = meanLoss(tuned);
  const release = () => {
    data.forEach(disposeBatch);
    model.dispose();
  };
  return { tuned, before, after, result, data, release };
}

/** The sparse method's applied form inside a tuned model (the first method of the active adapter). */
export function sparseDeltaOf(tuned: PeftModel<ConformanceModel>): SparseDelta {
  const applied = tuned.appliedMethods()[0] as unknown as { delta?: SparseDelta };
  if (!applied.delta) throw new Error('not a sparse method');
  return applied.delta;
}

/** A calibration context over `batches`, as the trainer builds it (eval mode). */
export function calibrationContextFor(model: ConformanceModel, batches: Batch[]): CalibrationContext {
  return {
    batches,
    loss: (batch) => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask),
    forward: (batch) => model.forward(batch),
  };
}

/**
 * Plain-JS reference of the squared-gradient criteria: Σ over units of fround(g²) per entry of each
 * tensor (gradients from tf on the bare model), then a full sort (descending, ties to the lower index).
 */
export function referenceTopK(model: ConformanceModel, parameters: readonly Parameter[], units: Batch[], k: number): number[] {
  const sums = parameters.map((parameter) => new Float32Array(parameter.size));
  for (const unit of units) {
    const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward(unit), unit.labels!, unit.attentionMask), parameters.map((p) => p.variable));
    parameters.forEach((parameter, t) => {
      const g = grads[parameter.variable.name]!.dataSync();
      for (let i = 0; i < g.length; i++) sums[t]![i] = Math.fround(sums[t]![i]! + Math.fround(g[i]! * g[i]!));
    });
    tf.dispose([value, ...Object.values(grads)]);
  }
  return referenceTopKOfScores(sums, k);
}

/** The k largest scores' global indices by a full sort (descending, ties to the lower index), sorted ascending. */
export function referenceTopKOfScores(scores: readonly ArrayLike<number>[], k: number): number[] {
  const all: Array<[number, number]> = [];
  let offset = 0;
  for (const score of scores) {
    for (let i = 0; i < score.length; i++) all.push([score[i]!, offset + i]);
    offset += score.length;
  }
  all.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return all.slice(0, k).map(([, index]) => index).sort((a, b) => a - b);
}

/** One-example batches of `batch` (row slices), for per-example references. */
export function examplesOf(batch: Batch): Batch[] {
  const size = batch.inputIds.shape[0]!;
  return Array.from({ length: size }, (_, row) => ({
    inputIds: tf.slice(batch.inputIds, [row], [1]),
    ...(batch.attentionMask ? { attentionMask: tf.slice(batch.attentionMask, [row], [1]) } : {}),
    labels: tf.slice(batch.labels!, [row], [1]),
  }));
}
