import { loadSotu, type SotuDocument } from '../corpora/sotu';
import { assembleTask, type TaskSplitOptions } from './assemble-task';
import { selectEvenly } from './select-evenly';
import type { TextExample, TextTask } from './task';

/** The eras (inclusive first year) the SOTU task predicts; each runs until the next one starts. */
export const SOTU_ERAS = [
  { name: '1790-1860 early republic', from: 1790 },
  { name: '1861-1900 civil war and gilded age', from: 1861 },
  { name: '1901-1945 progressive era to world war II', from: 1901 },
  { name: '1946-1980 cold war', from: 1946 },
  { name: '1981-2021 late 20th and 21st century', from: 1981 },
] as const;

/** Index in {@link SOTU_ERAS} of the era a year belongs to. */
export function sotuEraOf(year: number): number {
  let era = 0;
  SOTU_ERAS.forEach((candidate, index) => {
    if (year >= candidate.from) era = index;
  });
  return era;
}

export interface SotuEraTaskOptions extends TaskSplitOptions {
  /** Sentences per example (default 2). */
  chunkSentences?: number;
  /** At most this many chunks per address, spread evenly over it (default 40), so long 19th-century messages do not dominate. */
  maxChunksPerDocument?: number;
  /** Addresses to use instead of the installed corpus (tests). */
  documents?: readonly SotuDocument[];
}

/**
 * (b) SOTU era: from a chunk of consecutive sentences of a State of the Union address, predict
 * its era. Split by address, stratified by era, so a test chunk never comes from an address seen in training (but
 * the same president may appear in both: style and topics of an era, not of a speaker, are the signal).
 */
export function buildSotuEraTask(options: SotuEraTaskOptions = {}): TextTask {
  const documents = options.documents ?? loadSotu();
  const size = options.chunkSentences ?? 2;
  const eraOfDocument = new Map(documents.map((document) => [document.id, sotuEraOf(document.metadata.year)]));
  const examples: TextExample[] = documents.flatMap((document) => {
    const chunks: string[] = [];
    for (let start = 0; start + size <= document.sentences.length; start += size) {
      chunks.push(document.sentences.slice(start, start + size).join(' '));
    }
    const label = sotuEraOf(document.metadata.year);
    return selectEvenly(chunks, options.maxChunksPerDocument ?? 40).map((text) => ({ documentId: document.id, text, label }));
  });
  return assembleTask(
    {
      name: 'sotu-era',
      description: `State of the Union address, ${size} consecutive sentences -> era of the address`,
      type: 'sequence-classification',
      metric: 'accuracy',
      labels: SOTU_ERAS.map((era) => era.name),
    },
    examples,
    { ...options, stratumOf: (documentId) => String(eraOfDocument.get(documentId)) },
  );
}
