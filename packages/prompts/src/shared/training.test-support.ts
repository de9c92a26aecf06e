import { tf, type Batch, type PeftModel } from '@peftjs/core';

/** Trains the tuned model's trainable parameters with Adam on one batch; returns the losses before and after. */
export function trainOnBatch(tuned: PeftModel<any>, batch: Batch, steps: number, learningRate: number): { before: number; after: number } {
  const lossOf = (): tf.Scalar => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask) as tf.Scalar;
  const before = tf.tidy(() => lossOf().dataSync()[0]!);
  const optimizer = tf.train.adam(learningRate);
  const variables = tuned.trainableParameters().map((parameter) => parameter.variable);
  tuned.model.train();
  for (let step = 0; step < steps; step++) tf.tidy(() => void optimizer.minimize(lossOf, false, variables));
  tuned.model.eval();
  optimizer.dispose();
  const after = tf.tidy(() => lossOf().dataSync()[0]!);
  return { before, after };
}
