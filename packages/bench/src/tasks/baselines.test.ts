import { describe, expect, it } from 'vitest';
import { MultinomialNaiveBayes } from './naive-bayes';
import { buildTaskCard } from './task-card';
import type { TextTask, TokenTask } from './task';

// Train: label 0 = "good good fun", "good"; label 1 = "bad fun". Vocabulary {good, fun, bad}, alpha 1.
// P(0)=2/3, P(1)=1/3; P(good|0)=4/7, P(fun|0)=2/7, P(bad|0)=1/7; P(good|1)=1/5, P(fun|1)=2/5, P(bad|1)=2/5.
const train = [
  { documentId: 'd1', text: 'Good good fun', label: 0 },
  { documentId: 'd2', text: 'good', label: 0 },
  { documentId: 'd3', text: 'bad, fun', label: 1 },
];
// NB predicts: "fun bad" 4/147 vs 4/75 -> 1; "fun" 4/21 vs 2/15 -> 0; "good bad" 8/147 vs 2/75 -> 0;
// "bad bad" 2/147 vs 4/75 -> 1; "zzz" (unseen) priors -> 0. Against labels 1,0,0,1,1: 4/5 correct.
// Majority label (0) gets 2/5.
const test = [
  { documentId: 't1', text: 'fun bad', label: 1 },
  { documentId: 't2', text: 'fun', label: 0 },
  { documentId: 't3', text: 'good bad', label: 0 },
  { documentId: 't4', text: 'bad bad', label: 1 },
  { documentId: 't5', text: 'zzz', label: 1 },
];

describe('baselines on a hand-computed dataset', () => {
  it('naive Bayes log scores equal the hand-computed ones', () => {
    const model = new MultinomialNaiveBayes([['good', 'good', 'fun'], ['good'], ['bad', 'fun']], [0, 0, 1], 2);
    const [zero, one] = model.scores(['fun', 'bad']);
    expect(zero).toBeCloseTo(Math.log(2 / 3) + Math.log(2 / 7) + Math.log(1 / 7), 12);
    expect(one).toBeCloseTo(Math.log(1 / 3) + Math.log(2 / 5) + Math.log(2 / 5), 12);
  });

  it('task card: counts per split and label, majority 0.4, naive Bayes 0.8', () => {
    const task: TextTask = {
      name: 'toy',
      description: 'toy',
      type: 'sequence-classification',
      metric: 'accuracy',
      labels: ['pos', 'neg'],
      train,
      validation: [{ documentId: 'v1', text: 'good', label: 0 }],
      test,
    };
    const card = buildTaskCard(task);
    expect(card.splits.train).toEqual({ examples: 3, documents: 3, perLabel: { pos: 2, neg: 1 } });
    expect(card.splits.validation).toEqual({ examples: 1, documents: 1, perLabel: { pos: 1, neg: 0 } });
    expect(card.splits.test).toEqual({ examples: 5, documents: 5, perLabel: { pos: 2, neg: 3 } });
    expect(card.baselines.majority).toBeCloseTo(0.4, 12);
    expect(card.baselines.bagOfWords).toBeCloseTo(0.8, 12);
  });

  it('tagging card: majority tag 1/3, unigram tagger 2/3', () => {
    // Tags D N V. "run" is N once and V once: the tie goes to N. Majority tag in train: N (3 of 7).
    // Test "The run cat" = D V N -> unigram tagger D, N, N (cat unseen -> N): 2/3; majority N: 1/3.
    const task: TokenTask = {
      name: 'toy-tags',
      description: 'toy',
      type: 'token-classification',
      metric: 'accuracy',
      labels: ['D', 'N', 'V'],
      train: [
        { documentId: 'a', tokens: ['The', 'dog', 'runs'], tags: [0, 1, 2] },
        { documentId: 'b', tokens: ['the', 'run'], tags: [0, 1] },
        { documentId: 'c', tokens: ['dogs', 'run'], tags: [1, 2] },
      ],
      validation: [],
      test: [{ documentId: 'd', tokens: ['The', 'run', 'cat'], tags: [0, 2, 1] }],
    };
    const card = buildTaskCard(task);
    expect(card.splits.train.perLabel).toEqual({ D: 2, N: 3, V: 2 });
    expect(card.baselines.majority).toBeCloseTo(1 / 3, 12);
    expect(card.baselines.bagOfWords).toBeCloseTo(2 / 3, 12);
  });
});
