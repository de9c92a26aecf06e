import { describe, expect, it } from 'vitest';
import { accuracy } from './accuracy';
import { computeMetrics } from './compute-metrics';
import { confusionMatrix } from './confusion-matrix';
import { f1Score } from './f1-score';
import { matthewsCorrelation } from './matthews-correlation';
import { meanSquaredError } from './mean-squared-error';
import { pearsonCorrelation } from './pearson-correlation';
import { averageRanks, spearmanCorrelation } from './spearman-correlation';

// Binary case: TP = 1 (index 1), TN = 2 (0, 3), FP = 2 (2, 4), FN = 0.
const binaryPredictions = [0, 1, 1, 0, 1];
const binaryLabels = [0, 1, 0, 0, 0];
// Three classes; confusion rows (true) [2,0,0], [1,0,1], [0,1,1].
const multiPredictions = [0, 2, 1, 0, 0, 2];
const multiLabels = [0, 1, 2, 0, 1, 2];

describe('classification metrics', () => {
  it('accuracy', () => {
    expect(accuracy(binaryPredictions, binaryLabels)).toBeCloseTo(3 / 5, 12);
    expect(accuracy(multiPredictions, multiLabels)).toBeCloseTo(3 / 6, 12);
    expect(accuracy([], [])).toBeNaN();
  });

  it('confusion matrix over the classes seen', () => {
    expect(confusionMatrix(multiPredictions, multiLabels)).toEqual({ classes: [0, 1, 2], counts: [[2, 0, 0], [1, 0, 1], [0, 1, 1]] });
  });

  it('binary F1 of class 1 and macro F1 for several classes', () => {
    expect(f1Score(binaryPredictions, binaryLabels)).toBeCloseTo((2 * 1) / (2 * 1 + 2 + 0), 12);
    // Per class: 2·2/(2+3) = 0.8, 0, 2·1/(2+2) = 0.5.
    expect(f1Score(multiPredictions, multiLabels)).toBeCloseTo((0.8 + 0 + 0.5) / 3, 12);
    // Macro over the binary case: class 0 has TP 2, 4 true, 2 predicted -> 4/6; class 1 -> 0.5.
    expect(f1Score(binaryPredictions, binaryLabels, { average: 'macro' })).toBeCloseTo((4 / 6 + 0.5) / 2, 12);
  });

  it('F1 is 0 when class 1 is never true nor predicted (zero_division = 0)', () => {
    expect(f1Score([0, 0, 0], [0, 0, 0])).toBe(0);
  });

  it('binary Matthews correlation', () => {
    // (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 2 / √(3·1·4·2).
    expect(matthewsCorrelation(binaryPredictions, binaryLabels)).toBeCloseTo(2 / Math.sqrt(24), 12);
    expect(matthewsCorrelation([1, 0, 1, 0], [1, 0, 1, 0])).toBeCloseTo(1, 12);
    expect(matthewsCorrelation([0, 1, 0, 1], [1, 0, 1, 0])).toBeCloseTo(-1, 12);
  });

  it('multi-class Matthews correlation by sklearn formula', () => {
    // t = [2,2,2], p = [3,1,2], c = 3, s = 6: (18 − 12) / √((36 − 14)(36 − 12)).
    expect(matthewsCorrelation(multiPredictions, multiLabels)).toBeCloseTo(6 / Math.sqrt(22 * 24), 12);
  });

  it('Matthews correlation is 0 for constant predictions or labels, like sklearn', () => {
    expect(matthewsCorrelation([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0);
    expect(matthewsCorrelation([0, 1, 0, 1], [1, 1, 1, 1])).toBe(0);
    expect(matthewsCorrelation([], [])).toBe(0);
  });

  it('rejects mismatched lengths and non-integer classes', () => {
    expect(() => accuracy([1], [1, 2])).toThrow(expect.objectContaining({ code: 'invalid-argument', field: 'predictions.length' }));
    expect(() => f1Score([0.5], [1])).toThrow(expect.objectContaining({ field: 'predictions' }));
  });
});

describe('regression metrics', () => {
  it('Pearson correlation', () => {
    // dx = [-1.5,-0.5,0.5,1.5], dy = [-3,-1,0,4]: 11 / √(5·26).
    expect(pearsonCorrelation([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 12);
    expect(pearsonCorrelation([1, 2, 3], [-2, -4, -6])).toBeCloseTo(-1, 12);
  });

  it('average ranks with ties', () => {
    expect(averageRanks([10, 20, 10, 30, 20, 20])).toEqual([1.5, 4, 1.5, 6, 4, 4]);
  });

  it('Spearman correlation with ties uses average ranks', () => {
    // Ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]: 4.5 / √(4.5·5).
    expect(spearmanCorrelation([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 12);
    // Monotone but not linear: Spearman 1, Pearson below 1.
    expect(spearmanCorrelation([1, 2, 3, 4], [1, 8, 27, 1000])).toBeCloseTo(1, 12);
    expect(pearsonCorrelation([1, 2, 3, 4], [1, 8, 27, 1000])).toBeLessThan(0.9);
  });

  it('correlations are NaN for constant inputs, a single pair, or NaN values', () => {
    expect(pearsonCorrelation([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(spearmanCorrelation([1, 2, 3], [5, 5, 5])).toBeNaN();
    expect(pearsonCorrelation([1], [2])).toBeNaN();
    expect(spearmanCorrelation([1, Number.NaN, 3], [1, 2, 3])).toBeNaN();
    expect(pearsonCorrelation([1, Number.NaN, 3], [1, 2, 3])).toBeNaN();
  });

  it('mean squared error', () => {
    expect(meanSquaredError([1, 2, 3], [1, 1, 1])).toBeCloseTo(5 / 3, 12);
    expect(meanSquaredError([], [])).toBeNaN();
  });
});

describe('computeMetrics', () => {
  it('per task type', () => {
    const classification = computeMetrics('sequence-classification', binaryPredictions, binaryLabels);
    expect(classification.accuracy).toBeCloseTo(0.6, 12);
    expect(classification.f1).toBeCloseTo(0.5, 12);
    expect(classification.matthews).toBeCloseTo(2 / Math.sqrt(24), 12);
    const regression = computeMetrics('regression', [1, 2, 3, 4], [2, 4, 5, 9]);
    expect(Object.keys(regression).sort()).toEqual(['mse', 'pearson', 'spearman']);
    expect(regression.pearson).toBeCloseTo(11 / Math.sqrt(130), 12);
    expect(regression.spearman).toBeCloseTo(1, 12);
    expect(regression.mse).toBeCloseTo((1 + 4 + 4 + 25) / 4, 12);
  });

  it('token classification counts only labels other than -100', () => {
    expect(computeMetrics('token-classification', [0, 1, 1, 1], [0, -100, 2, 1])).toEqual({ accuracy: 2 / 3 });
  });
});
