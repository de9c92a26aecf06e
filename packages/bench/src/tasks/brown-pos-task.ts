import { loadBrown, type BrownDocument } from '../corpora/brown';
import { assembleTask, type TaskSplitOptions } from './assemble-task';
import { UNIVERSAL_TAGS, brownToUniversal } from './brown-tag-map';
import type { TokenExample, TokenTask } from './task';

export interface BrownPosTaskOptions extends TaskSplitOptions {
  /** Sentences longer than this many words are skipped (default 48). */
  maxWords?: number;
  /** At most this many documents, spread evenly over the corpus's genres (default all 500). */
  maxDocuments?: number;
  /** Documents to use instead of the installed corpus (tests). */
  documents?: readonly BrownDocument[];
}

/**
 * (d) Brown POS tagging: one universal tag (see {@link UNIVERSAL_TAGS}) per word of a Brown
 * sentence. Token classification; split by Brown file.
 */
export function buildBrownPosTask(options: BrownPosTaskOptions = {}): TokenTask {
  const all = options.documents ?? loadBrown();
  const documentCount = Math.min(options.maxDocuments ?? all.length, all.length);
  const documents = Array.from({ length: documentCount }, (_, i) => all[Math.floor((i * all.length) / documentCount)]!);
  const maxWords = options.maxWords ?? 48;
  const tagIndex = new Map<string, number>(UNIVERSAL_TAGS.map((tag, index) => [tag, index]));
  const examples: TokenExample[] = documents.flatMap((document) =>
    document.metadata.taggedSentences
      .filter((sentence) => sentence.words.length > 0 && sentence.words.length <= maxWords)
      .map((sentence) => ({
        documentId: document.id,
        tokens: sentence.words,
        tags: sentence.tags.map((tag) => tagIndex.get(brownToUniversal(tag))!),
      })),
  );
  return assembleTask(
    {
      name: 'brown-pos',
      description: 'Brown corpus sentence -> universal part-of-speech tag per word (Petrov et al. 2012 tag set)',
      type: 'token-classification',
      metric: 'accuracy',
      labels: [...UNIVERSAL_TAGS],
    },
    examples,
    options,
  );
}
