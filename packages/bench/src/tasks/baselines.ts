import { bagOfWordsFeatures } from './bag-of-words';
import { MultinomialNaiveBayes } from './naive-bayes';
import type { TextExample, TokenExample } from './task';

/** The most frequent label of the training labels (ties: smaller index). */
export function majorityLabel(labels: Iterable<number>, labelCount: number): number {
  const counts = new Array<number>(labelCount).fill(0);
  for (const label of labels) counts[label]! += 1;
  return argmax(counts);
}

/** Index of the largest count (ties: smaller index). */
function argmax(counts: readonly number[]): number {
  let best = 0;
  for (let index = 1; index < counts.length; index += 1) if (counts[index]! > counts[best]!) best = index;
  return best;
}

/** Fraction of positions where prediction equals reference (0 for no positions). */
export function accuracy(predictions: readonly number[], references: readonly number[]): number {
  if (references.length === 0) return 0;
  let correct = 0;
  references.forEach((reference, index) => {
    if (predictions[index] === reference) correct += 1;
  });
  return correct / references.length;
}

/** Accuracy on `test` of always predicting the training majority label. */
export function majorityBaselineAccuracy(train: readonly TextExample[], test: readonly TextExample[], labelCount: number): number {
  const majority = majorityLabel(train.map((example) => example.label), labelCount);
  return accuracy(test.map(() => majority), test.map((example) => example.label));
}

/** Accuracy on `test` of multinomial naive Bayes trained on the bag of words of `train`. */
export function naiveBayesBaselineAccuracy(train: readonly TextExample[], test: readonly TextExample[], labelCount: number): number {
  const model = new MultinomialNaiveBayes(
    train.map(bagOfWordsFeatures),
    train.map((example) => example.label),
    labelCount,
  );
  return accuracy(test.map((example) => model.predict(bagOfWordsFeatures(example))), test.map((example) => example.label));
}

/** Token accuracy on `test` of tagging every token with the most frequent training tag. */
export function majorityTagAccuracy(train: readonly TokenExample[], test: readonly TokenExample[], labelCount: number): number {
  const majority = majorityLabel(train.flatMap((example) => example.tags), labelCount);
  const references = test.flatMap((example) => example.tags);
  return accuracy(references.map(() => majority), references);
}

/**
 * Token accuracy on `test` of the unigram tagger, the bag-of-words baseline of tagging: each
 * (lowercased) word gets its most frequent training tag; unseen words get the majority tag.
 */
export function unigramTaggerAccuracy(train: readonly TokenExample[], test: readonly TokenExample[], labelCount: number): number {
  const tagCounts = new Map<string, number[]>();
  for (const example of train) {
    example.tokens.forEach((token, index) => {
      const word = token.toLowerCase();
      let counts = tagCounts.get(word);
      if (counts === undefined) tagCounts.set(word, (counts = new Array<number>(labelCount).fill(0)));
      counts[example.tags[index]!]! += 1;
    });
  }
  const majority = majorityLabel(train.flatMap((example) => example.tags), labelCount);
  const predictions: number[] = [];
  const references: number[] = [];
  for (const example of test) {
    example.tokens.forEach((token, index) => {
      const counts = tagCounts.get(token.toLowerCase());
      predictions.push(counts === undefined ? majority : argmax(counts));
      references.push(example.tags[index]!);
    });
  }
  return accuracy(predictions, references);
}
