import { invalidArgument } from '../../errors/peft-error';

/** Checks that predictions and labels pair up one to one. */
export function checkPairs(predictions: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (predictions.length !== labels.length) {
    invalidArgument('predictions.length', predictions.length, `the number of labels (${labels.length})`);
  }
}
