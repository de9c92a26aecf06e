import { checkPairs } from './metric-inputs';
import { pearsonCorrelation } from './pearson-correlation';

/** 1-based ranks with ties given the average of the ranks they span (scipy's `rankdata(method='average')`). */
export function averageRanks(values: ArrayLike<number>): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Array<number>(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]!] === values[order[start]!]) end += 1;
    const average = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!] = average;
    start = end + 1;
  }
  return ranks;
}

/**
 * Spearman's ρ: Pearson's r of the average ranks (ties share their mean rank, as scipy's
 * `spearmanr`). NaN when either side is constant, for fewer than 2 pairs, or when any value is NaN.
 */
export function spearmanCorrelation(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(predictions, labels);
  for (const values of [predictions, labels]) for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i]!)) return Number.NaN;
  return pearsonCorrelation(averageRanks(predictions), averageRanks(labels));
}
