import { checkPairs } from './metric-inputs';

/** Mean of (prediction − label)². NaN for no examples. */
export function meanSquaredError(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(predictions, labels);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (predictions[i]! - labels[i]!) ** 2;
  return labels.length === 0 ? Number.NaN : sum / labels.length;
}
