import { invalidArgument } from '../../errors/peft-error';
import { checkPairs } from './metric-inputs';

/** Counts of (true class, predicted class) pairs over the classes that occur. */
export interface ConfusionMatrix {
  /** The sorted union of class ids seen in labels and predictions (sklearn's default `labels`). */
  classes: number[];
  /** counts[i][j]: examples of true class classes[i] predicted as classes[j]. */
  counts: number[][];
}

/** The confusion matrix of integer class predictions against labels. */
export function confusionMatrix(predictions: ArrayLike<number>, labels: ArrayLike<number>): ConfusionMatrix {
  checkPairs(predictions, labels);
  const seen = new Set<number>();
  for (const values of [predictions, labels]) {
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (!Number.isInteger(value)) invalidArgument(values === labels ? 'labels' : 'predictions', value, 'integer class ids');
      seen.add(value);
    }
  }
  const classes = [...seen].sort((a, b) => a - b);
  const index = new Map(classes.map((c, i) => [c, i]));
  const counts = classes.map(() => classes.map(() => 0));
  for (let i = 0; i < labels.length; i++) counts[index.get(labels[i]!)!]![index.get(predictions[i]!)!]! += 1;
  return { classes, counts };
}
