import { invalidArgument } from '../errors/peft-error';
import { tf } from '../nn/tf';

/** Labels equal to this are skipped by every cross-entropy here (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * Mean cross-entropy of logits [N, classes] against int labels [N], like PyTorch's
 * `CrossEntropyLoss(ignore_index=-100)`: rows labelled −100, and rows whose optional weight is 0,
 * are left out of both the sum and the count. With nothing left the loss is 0 (not NaN).
 */
export function crossEntropyLoss(logits: tf.Tensor, labels: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1]!;
    const flatLogits = logits.reshape([-1, classes]);
    const flatLabels = labels.reshape([-1]).toInt();
    if (flatLabels.shape[0] !== flatLogits.shape[0]) invalidArgument('labels.shape', labels.shape, `${flatLogits.shape[0]} labels, one per logits row`);
    checkLabelRange(flatLabels, classes);
    let valid = tf.notEqual(flatLabels, IGNORE_INDEX).toFloat();
    if (weights) valid = tf.mul(valid, tf.notEqual(weights.reshape([-1]), 0).toFloat());
    const safeLabels = tf.mul(flatLabels, valid.toInt());
    const picked = tf.sum(tf.mul(tf.logSoftmax(flatLogits), tf.oneHot(safeLabels, classes, 1, 0, 'float32')), -1);
    const count = tf.maximum(tf.sum(valid), 1);
    return tf.neg(tf.div(tf.sum(tf.mul(picked, valid)), count)) as tf.Scalar;
  });
}

/** Token-level cross-entropy: logits [batch, seq, classes], labels [batch, seq], positions with mask 0 skipped. */
export function tokenCrossEntropyLoss(logits: tf.Tensor, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar {
  if (labels.rank !== 2 || logits.rank !== 3 || labels.shape[1] !== logits.shape[1]) {
    invalidArgument('labels.shape', labels.shape, `[batch, seq] matching logits [${logits.shape.join(', ')}]`);
  }
  return crossEntropyLoss(logits, labels, attentionMask);
}

/**
 * Causal language-modelling loss as HF computes it: the logits at position t predict the label at
 * t + 1 (`shift_logits = logits[..., :-1]`, `shift_labels = labels[..., 1:]`); labels −100 and
 * positions whose attention mask is 0 are skipped.
 */
export function causalLmLoss(logits: tf.Tensor, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar {
  if (labels.rank !== 2 || logits.rank !== 3 || labels.shape[1] !== logits.shape[1]) {
    invalidArgument('labels.shape', labels.shape, `[batch, seq] matching logits [${logits.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const [batch, length, vocab] = logits.shape as [number, number, number];
    if (length < 2) return tf.scalar(0);
    const shiftedLogits = logits.slice([0, 0, 0], [batch, length - 1, vocab]);
    const shiftedLabels = labels.slice([0, 1], [batch, length - 1]);
    const shiftedMask = attentionMask?.slice([0, 1], [batch, length - 1]);
    return crossEntropyLoss(shiftedLogits, shiftedLabels, shiftedMask);
  });
}

/**
 * Mean squared error as HF's regression heads compute it: with one output, predictions [batch, 1]
 * and targets [batch] are both flattened; with several, targets must be [batch, outputs].
 */
export function mseLoss(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const outputs = predictions.shape[predictions.rank - 1]!;
    const flatPredictions = predictions.reshape([-1]);
    const flatTargets = targets.toFloat().reshape([-1]);
    if (flatTargets.shape[0] !== flatPredictions.shape[0]) {
      invalidArgument('labels.shape', targets.shape, outputs === 1 ? '[batch] or [batch, 1]' : `[batch, ${outputs}]`);
    }
    return tf.mean(tf.squaredDifference(flatPredictions, flatTargets)) as tf.Scalar;
  });
}

/** Labels must be class ids or −100; anything else would silently pick no logit. */
function checkLabelRange(labels: tf.Tensor, classes: number): void {
  const values = labels.dataSync();
  for (const label of values) {
    if (label !== IGNORE_INDEX && (label < 0 || label >= classes)) invalidArgument('labels', label, `class ids in [0, ${classes}) or ${IGNORE_INDEX}`);
  }
}
