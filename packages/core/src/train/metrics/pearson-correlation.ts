import { checkPairs } from './metric-inputs';

/**
 * Pearson's r = cov(x, y) / (σx·σy). NaN when either side is constant (the correlation is
 * undefined; scipy returns NaN too), when there are fewer than 2 pairs, or when any value is NaN.
 */
export function pearsonCorrelation(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(predictions, labels);
  const n = labels.length;
  if (n < 2) return Number.NaN;
  let meanX = 0;
  let meanY = 0;
  for (let i = 0; i < n; i++) {
    meanX += predictions[i]!;
    meanY += labels[i]!;
  }
  meanX /= n;
  meanY /= n;
  let covariance = 0;
  let varianceX = 0;
  let varianceY = 0;
  for (let i = 0; i < n; i++) {
    const dx = predictions[i]! - meanX;
    const dy = labels[i]! - meanY;
    covariance += dx * dy;
    varianceX += dx * dx;
    varianceY += dy * dy;
  }
  if (varianceX === 0 || varianceY === 0) return Number.NaN;
  // Rounding can push |r| a hair past 1 for perfectly correlated inputs.
  return Math.max(-1, Math.min(1, covariance / Math.sqrt(varianceX * varianceY)));
}
