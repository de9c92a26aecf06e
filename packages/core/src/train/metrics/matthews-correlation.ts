import { confusionMatrix } from './confusion-matrix';

/**
 * Matthews correlation coefficient, binary or multi-class, by sklearn's formula
 * (Gorodkin, "Comparing two K-category assignments by a K-category correlation coefficient", 2004):
 * with confusion matrix C, t = row sums, p = column sums, c = trace, s = total,
 *   MCC = (c·s − t·p) / √((s² − p·p)(s² − t·t)).
 * When either factor under the root is 0 (constant predictions or constant labels) it is 0, as in
 * sklearn; also 0 for no examples.
 */
export function matthewsCorrelation(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { counts } = confusionMatrix(predictions, labels);
  const trueSums = counts.map((row) => row.reduce((a, b) => a + b, 0));
  const predictedSums = counts.map((_, j) => counts.reduce((sum, row) => sum + row[j]!, 0));
  const correct = counts.reduce((sum, row, i) => sum + row[i]!, 0);
  const samples = labels.length;
  const dot = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);
  const covariancePredictedTrue = correct * samples - dot(trueSums, predictedSums);
  const covariancePredicted = samples * samples - dot(predictedSums, predictedSums);
  const covarianceTrue = samples * samples - dot(trueSums, trueSums);
  if (covariancePredicted * covarianceTrue === 0) return 0;
  return covariancePredictedTrue / Math.sqrt(covariancePredicted * covarianceTrue);
}
