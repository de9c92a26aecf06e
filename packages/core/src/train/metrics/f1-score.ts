import { confusionMatrix } from './confusion-matrix';

export interface F1Options {
  /**
   * 'binary': F1 of the positive class 1 (GLUE's MRPC/QQP F1). 'macro': unweighted mean of the
   * per-class F1 over the classes seen in labels or predictions (sklearn `average='macro'`).
   * Default: 'binary' when every label and prediction is 0 or 1, else 'macro'.
   */
  average?: 'binary' | 'macro';
}

/**
 * F1 = 2·TP / (2·TP + FP + FN). A class with no true and no predicted examples has F1 0
 * (sklearn's `zero_division=0`). NaN for no examples.
 */
export function f1Score(predictions: ArrayLike<number>, labels: ArrayLike<number>, options: F1Options = {}): number {
  const { classes, counts } = confusionMatrix(predictions, labels);
  if (labels.length === 0) return Number.NaN;
  const binary = classes.every((c) => c === 0 || c === 1);
  const average = options.average ?? (binary ? 'binary' : 'macro');
  const f1Of = (classIndex: number): number => {
    const truePositives = counts[classIndex]![classIndex]!;
    const trueCount = counts[classIndex]!.reduce((a, b) => a + b, 0);
    const predictedCount = counts.reduce((sum, row) => sum + row[classIndex]!, 0);
    const denominator = trueCount + predictedCount; // = 2TP + FP + FN
    return denominator === 0 ? 0 : (2 * truePositives) / denominator;
  };
  if (average === 'binary') {
    const positive = classes.indexOf(1);
    return positive < 0 ? 0 : f1Of(positive);
  }
  return classes.reduce((sum, _, i) => sum + f1Of(i), 0) / classes.length;
}
