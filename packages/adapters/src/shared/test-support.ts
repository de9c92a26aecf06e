import { SeedStream, createBert, createGpt, setGlobalSeed, tf, type Batch, type Parameter, type PeftModel } from '@peftjs/core';
import type { ConformanceModel } from '@peftjs/core/testing';

/** The conformance suite's GPT-2 counterpart of its tiny BERT: 2 layers, hidden 16, 3 labels. */
export function createConformanceGpt(): ConformanceModel {
  setGlobalSeed(4321);
  return createGpt({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 }) as unknown as ConformanceModel;
}

/** A tiny base with O(1) weights (std 0.3), so adapters have signal to work with in training tests. */
export function createTrainingBase(kind: 'bert' | 'gpt'): ConformanceModel {
  setGlobalSeed(5);
  const options = { vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 };
  return (kind === 'bert' ? createBert(options) : createGpt({ ...options, task: 'sequence-classification' })) as unknown as ConformanceModel;
}

/** Task loss of a model on a batch, plus every applied method's regularizer. */
function lossOf(tuned: PeftModel<ConformanceModel>, batch: Batch): tf.Scalar {
  return tf.tidy(() => {
    let loss = tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask);
    for (const method of tuned.appliedMethods()) if (method.regularization) loss = tf.add(loss, method.regularization());
    return loss as tf.Scalar;
  });
}

/** Adam steps on the trainable parameters, with every method hook that touches gradients; returns the last loss. */
export function trainSteps(tuned: PeftModel<ConformanceModel>, batch: Batch, steps: number, learningRate: number): number {
  const optimizer = tf.train.adam(learningRate);
  const parameters = tuned.trainableParameters();
  const methods = tuned.appliedMethods();
  let last = Number.NaN;
  tuned.model.train();
  for (let step = 0; step < steps; step++) {
    const { value, grads } = tf.variableGrads(() => lossOf(tuned, batch), parameters.map((p) => p.variable));
    last = value.dataSync()[0]!;
    let gradients = new Map(parameters.map((p) => [p, grads[p.variable.name]!] as const));
    for (const method of methods) {
      if (!method.transformGradients) continue;
      const next = method.transformGradients(gradients);
      for (const [parameter, gradient] of gradients) if (next.get(parameter) !== gradient) gradient.dispose();
      gradients = next;
    }
    optimizer.applyGradients(parameters.map((p) => ({ name: p.variable.name, tensor: gradients.get(p)! })));
    for (const method of methods) method.afterStep?.({ step: step + 1, totalSteps: steps, gradients });
    tf.dispose([value, ...gradients.values()]);
  }
  optimizer.dispose();
  tuned.model.eval();
  return last;
}

/** The frozen model's task loss on a batch (eval mode). */
export function evalLoss(model: { forward(batch: Batch): any; taskLoss(output: any, labels: tf.Tensor, mask?: tf.Tensor): tf.Scalar }, batch: Batch): number {
  return tf.tidy(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
}

/**
 * An O(1) scalar of the model's outputs: Σ logits ⊙ R₁ + Σ lastHidden ⊙ R₂ with fixed random R
 * (not a sum of squares of a LayerNorm output, which is constant).
 */
export function projectedOutputLoss(tuned: PeftModel<ConformanceModel>, batch: Batch): () => tf.Scalar {
  const shapes = tf.tidy(() => {
    const out = tuned.forward(batch);
    return [out.logits.shape, out.lastHiddenState.shape];
  });
  const random = new SeedStream(17);
  const r1 = tf.randomNormal(shapes[0]!, 0, 1, 'float32', random.nextSeed());
  const r2 = tf.randomNormal(shapes[1]!, 0, 1, 'float32', random.nextSeed());
  const loss = () =>
    tf.tidy(() => {
      const out = tuned.forward(batch);
      return tf.add(tf.sum(tf.mul(out.logits, r1)), tf.sum(tf.mul(out.lastHiddenState, r2))) as tf.Scalar;
    });
  (loss as unknown as { dispose: () => void }).dispose = () => tf.dispose([r1, r2]);
  return loss;
}

/**
 * Analytic gradient (tf.grads through the model) against central differences (float64 arithmetic
 * on float32 forwards, step eps) at a few entries of a parameter. Returns both lists.
 */
export function finiteDifferenceCheck(loss: () => tf.Scalar, parameter: Parameter, entries: readonly number[], eps = 1e-2): { analytic: number[]; numeric: number[] } {
  const { grads } = tf.variableGrads(loss, [parameter.variable]);
  const gradient = grads[parameter.variable.name]!.dataSync();
  const analytic = entries.map((i) => gradient[i]!);
  tf.dispose(Object.values(grads));
  const original = parameter.variable.dataSync().slice();
  const numeric = entries.map((i) => {
    const at = (delta: number) => {
      const values = original.slice();
      values[i] = values[i]! + delta;
      tf.tidy(() => parameter.assign(tf.tensor(values, parameter.shape)));
      return tf.tidy(() => loss().dataSync()[0]!);
    };
    const value = (at(eps) - at(-eps)) / (2 * eps);
    tf.tidy(() => parameter.assign(tf.tensor(original, parameter.shape)));
    return value;
  });
  return { analytic, numeric };
}

/** Sets every trainable parameter to seeded O(1) values (std `std`), so gradients of every factor are O(1). */
export function randomizeTrainable(tuned: PeftModel<ConformanceModel>, std = 0.5, seed = 3): void {
  const random = new SeedStream(seed);
  for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.randomNormal(parameter.shape, 0, std, 'float32', random.nextSeed())));
}
