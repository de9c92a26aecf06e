/**
 * Multinomial naive Bayes on word counts with Laplace (add-alpha) smoothing, the classic text
 * baseline (Manning, Raghavan, Schütze, "Introduction to Information Retrieval", ch. 13.2):
 * score(c) = log P(c) + sum over tokens t of log((count(t, c) + alpha) / (total(c) + alpha * |V|)).
 * Ties go to the smaller label index, so predictions are deterministic.
 */
export class MultinomialNaiveBayes {
  private readonly logPriors: number[];
  private readonly tokenCounts: Map<string, number>[];
  private readonly totals: number[];
  private readonly vocabularySize: number;

  constructor(
    documents: readonly (readonly string[])[],
    labels: readonly number[],
    readonly labelCount: number,
    private readonly alpha = 1,
  ) {
    const documentCounts = new Array<number>(labelCount).fill(0);
    this.tokenCounts = Array.from({ length: labelCount }, () => new Map<string, number>());
    this.totals = new Array<number>(labelCount).fill(0);
    const vocabulary = new Set<string>();
    documents.forEach((tokens, index) => {
      const label = labels[index]!;
      documentCounts[label]! += 1;
      const counts = this.tokenCounts[label]!;
      for (const token of tokens) {
        counts.set(token, (counts.get(token) ?? 0) + 1);
        vocabulary.add(token);
      }
      this.totals[label]! += tokens.length;
    });
    this.vocabularySize = vocabulary.size;
    // Labels never seen in training get probability 0 (log -Infinity), so they are never predicted.
    this.logPriors = documentCounts.map((count) => Math.log(count / documents.length));
  }

  /** Log joint scores per label (unnormalized log posteriors). Tokens unseen in training are ignored. */
  scores(tokens: readonly string[]): number[] {
    return this.logPriors.map((logPrior, label) => {
      const counts = this.tokenCounts[label]!;
      const denominator = Math.log(this.totals[label]! + this.alpha * this.vocabularySize);
      let score = logPrior;
      for (const token of tokens) {
        if (!this.isKnown(token)) continue;
        score += Math.log((counts.get(token) ?? 0) + this.alpha) - denominator;
      }
      return score;
    });
  }

  predict(tokens: readonly string[]): number {
    const scores = this.scores(tokens);
    let best = 0;
    for (let label = 1; label < scores.length; label += 1) if (scores[label]! > scores[best]!) best = label;
    return best;
  }

  private isKnown(token: string): boolean {
    return this.tokenCounts.some((counts) => counts.has(token));
  }
}
