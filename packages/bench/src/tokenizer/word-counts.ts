import { BertNormalizer, BertPreTokenizer } from '@huggingface/tokenizers';
import { BERT_NORMALIZER_CONFIG } from './tokenizer-json';

/**
 * Normalizes text and splits it into words exactly as the written tokenizer will at encode time:
 * the trainer uses `@huggingface/tokenizers`' own BertNormalizer and BertPreTokenizer, so the words
 * it learns pieces for are the words the encoder later sees.
 */
export class BertWordSplitter {
  // `null` (what tokenizer.json holds) means "follow lowercase"; the JS config type spells it `undefined`.
  private readonly normalizer = new BertNormalizer({ ...BERT_NORMALIZER_CONFIG, strip_accents: undefined });
  private readonly preTokenizer = new BertPreTokenizer();

  /** Lowercased, accent-stripped, CJK-spaced, control-cleaned text. */
  normalize(text: string): string {
    return this.normalizer.normalize(text);
  }

  /** The words of normalized text: whitespace-separated runs, each punctuation character on its own. */
  words(text: string): string[] {
    return this.preTokenizer.pre_tokenize_text(this.normalize(text));
  }
}

/** Counts the words of every text (BERT normalization and pre-tokenization). */
export function countWords(texts: Iterable<string>, splitter = new BertWordSplitter()): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const word of splitter.words(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}
