import { checkPairs } from './metric-inputs';

/** Fraction of predictions equal to their label. NaN for no examples. */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(predictions, labels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct += 1;
  return labels.length === 0 ? Number.NaN : correct / labels.length;
}
