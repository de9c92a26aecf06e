import { invalidArgument } from '../errors/peft-error';
import { IGNORE_INDEX } from '../models/task-loss';
import type { TaskModel, TaskType } from '../models/types';
import { tf } from '../nn/tf';
import { disposeBatch } from './example-batches';
import { computeMetrics, type Metrics } from './metrics/compute-metrics';
import { setTrainingMode } from './training-mode';
import type { BatchSource } from './types';

/**
 * Runs the model in eval mode (dropout off) over labelled batches and returns the task's metrics
 * (see `computeMetrics`) plus `loss`, the mean of the batch losses (HF's `eval_loss`), and for
 * language-modelling tasks `perplexity` = exp(loss). The model's previous mode is restored.
 * Batches from an array stay the caller's; batches from a function (called with epoch 0) are
 * disposed after use.
 */
export function evaluate(target: { readonly model: TaskModel }, data: BatchSource): Metrics {
  const model = target.model;
  const previousMode = setTrainingMode(model, false);
  const predictions: number[] = [];
  const labels: number[] = [];
  let lossSum = 0;
  let batches = 0;
  try {
    const owned = typeof data === 'function';
    for (const batch of typeof data === 'function' ? data(0) : data) {
      try {
        if (!batch.labels) invalidArgument(`evalData[${batches}].labels`, undefined, 'labels on every evaluation batch');
        const [loss, predicted, expected] = tf.tidy(() => {
          const output = model.forward(batch);
          const aligned = alignPredictions(model.task, output.logits, batch.labels!, batch.attentionMask);
          return [model.taskLoss(output, batch.labels!, batch.attentionMask), aligned.predictions, aligned.labels];
        });
        lossSum += loss.dataSync()[0]!;
        predictions.push(...predicted.dataSync());
        labels.push(...expected.dataSync());
        tf.dispose([loss, predicted, expected]);
        batches += 1;
      } finally {
        if (owned) disposeBatch(batch);
      }
    }
  } finally {
    if (previousMode !== undefined) setTrainingMode(model, previousMode);
  }
  if (batches === 0) invalidArgument('evalData', [], 'at least one batch');
  const loss = lossSum / batches;
  const metrics = { ...computeMetrics(model.task, predictions, labels), loss };
  return model.task === 'masked-lm' || model.task === 'causal-lm' ? { ...metrics, perplexity: Math.exp(loss) } : metrics;
}

/**
 * Flat predictions and labels, paired one to one: argmax class ids (or the regression output),
 * with padded positions (attention mask 0) labelled −100 and causal LM shifted by one as its loss is.
 */
function alignPredictions(task: TaskType, logits: tf.Tensor, labels: tf.Tensor, attentionMask?: tf.Tensor): { predictions: tf.Tensor; labels: tf.Tensor } {
  if (task === 'regression') return { predictions: logits.reshape([-1]), labels: labels.toFloat().reshape([-1]) };
  const classes = tf.argMax(logits, -1);
  if (task === 'sequence-classification') return { predictions: classes.reshape([-1]), labels: labels.toInt().reshape([-1]) };
  let predicted = classes;
  let expected = labels.toInt();
  let mask = attentionMask;
  if (task === 'causal-lm') {
    const [batch, length] = expected.shape as [number, number];
    if (length < 2) return { predictions: tf.zeros([0], 'int32'), labels: tf.zeros([0], 'int32') };
    predicted = predicted.slice([0, 0], [batch, length - 1]);
    expected = expected.slice([0, 1], [batch, length - 1]);
    mask = mask?.slice([0, 1], [batch, length - 1]);
  }
  if (mask) expected = tf.where(tf.equal(mask, 0), tf.fill(expected.shape, IGNORE_INDEX, 'int32'), expected);
  return { predictions: predicted.reshape([-1]), labels: expected.reshape([-1]) };
}
