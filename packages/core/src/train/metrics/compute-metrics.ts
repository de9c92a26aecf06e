import { invalidArgument } from '../../errors/peft-error';
import { IGNORE_INDEX } from '../../models/task-loss';
import type { TaskType } from '../../models/types';
import { accuracy } from './accuracy';
import { f1Score } from './f1-score';
import { matthewsCorrelation } from './matthews-correlation';
import { meanSquaredError } from './mean-squared-error';
import { checkPairs } from './metric-inputs';
import { pearsonCorrelation } from './pearson-correlation';
import { spearmanCorrelation } from './spearman-correlation';

/** Metric name → value. */
export type Metrics = Record<string, number>;

/**
 * The GLUE-style metrics of a task type:
 * - sequence-classification: `accuracy`, `f1` (binary for 0/1 labels, else macro), `matthews`;
 * - regression: `pearson`, `spearman`, `mse`;
 * - token-classification, masked-lm, causal-lm: `accuracy` over positions whose label is not −100
 *   (predictions and labels flattened and aligned by the caller).
 * Predictions are class ids (argmax) for classification tasks and values for regression.
 */
export function computeMetrics(task: TaskType, predictions: ArrayLike<number>, labels: ArrayLike<number>): Metrics {
  checkPairs(predictions, labels);
  switch (task) {
    case 'sequence-classification':
      return { accuracy: accuracy(predictions, labels), f1: f1Score(predictions, labels), matthews: matthewsCorrelation(predictions, labels) };
    case 'regression':
      return { pearson: pearsonCorrelation(predictions, labels), spearman: spearmanCorrelation(predictions, labels), mse: meanSquaredError(predictions, labels) };
    case 'token-classification':
    case 'masked-lm':
    case 'causal-lm': {
      const keptPredictions: number[] = [];
      const keptLabels: number[] = [];
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] === IGNORE_INDEX) continue;
        keptPredictions.push(predictions[i]!);
        keptLabels.push(labels[i]!);
      }
      return { accuracy: accuracy(keptPredictions, keptLabels) };
    }
    default:
      return invalidArgument('task', task, ['sequence-classification', 'regression', 'token-classification', 'masked-lm', 'causal-lm']);
  }
}
