import { describe, expect, it } from 'vitest';
import { fitToPositions } from './run-method';

describe('fitToPositions', () => {
  it('cuts long examples to the length, keeping their last token and cutting per-token labels alike', () => {
    const data = {
      train: [{ inputIds: [101, 5, 6, 7, 8, 102], labels: 1 }, { inputIds: [101, 5, 102], labels: 0 }],
      test: [{ inputIds: [101, 9, 9, 9, 102], labels: [-100, 1, 2, 3, -100], tokenTypeIds: [0, 0, 0, 1, 1] }],
    };
    const fitted = fitToPositions(data, 4);
    expect(fitted.train.map((example) => example.inputIds)).toEqual([[101, 5, 6, 102], [101, 5, 102]]);
    expect(fitted.test[0]).toEqual({ inputIds: [101, 9, 9, 102], labels: [-100, 1, 2, -100], tokenTypeIds: [0, 0, 0, 1] });
    expect(fitToPositions(data, 6)).toBe(data);
  });
});
