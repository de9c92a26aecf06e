import { SeedStream } from '@peftjs/core';
import type { CorpusDocument } from '../corpora/corpus-document';
import { loadMobyDick } from '../corpora/moby-dick';
import { loadSotu } from '../corpora/sotu';
import { DEFAULT_TASK_SEED, assembleTask, type TaskSplitOptions } from './assemble-task';
import { selectEvenly } from './select-evenly';
import type { TextExample, TextTask } from './task';

export const SENTENCE_ORDER_LABELS = ['swapped', 'in-order'] as const;

export interface SentenceOrderTaskOptions extends TaskSplitOptions {
  /** Corpora to draw documents from (default both). */
  sources?: readonly ('moby-dick' | 'sotu')[];
  /** At most this many pairs per document, spread evenly over it (default 30). */
  maxPairsPerDocument?: number;
  /** Sentences shorter than this many words are skipped (default 4). */
  minWords?: number;
  /** Documents to use instead of the installed corpora (tests). */
  documents?: readonly CorpusDocument<unknown>[];
}

/**
 * (c) Sentence order: given two consecutive sentences of a document, are they in their original
 * order? Non-overlapping pairs (s1, s2), (s3, s4), ...; within each document exactly half (±1)
 * are swapped, chosen by a seeded shuffle, so the task is balanced. Sentence pair, two labels.
 */
export function buildSentenceOrderTask(options: SentenceOrderTaskOptions = {}): TextTask {
  const sources = options.sources ?? ['moby-dick', 'sotu'];
  const documents: readonly CorpusDocument<unknown>[] = options.documents ?? [
    ...(sources.includes('moby-dick') ? loadMobyDick() : []),
    ...(sources.includes('sotu') ? loadSotu() : []),
  ];
  const minWords = options.minWords ?? 4;
  const stream = new SeedStream((options.seed ?? DEFAULT_TASK_SEED) + 1);
  const examples: TextExample[] = documents.flatMap((document) => {
    const sentences = document.sentences.filter((sentence) => sentence.split(/\s+/u).length >= minWords);
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < sentences.length; i += 2) pairs.push([sentences[i]!, sentences[i + 1]!]);
    const chosen = selectEvenly(pairs, options.maxPairsPerDocument ?? 30);
    const labels = chosen.map((_, index) => index % 2);
    for (let i = labels.length - 1; i > 0; i -= 1) {
      const j = stream.nextInt(i + 1);
      [labels[i], labels[j]] = [labels[j]!, labels[i]!];
    }
    return chosen.map(([first, second], index) => {
      const label = labels[index]!;
      return label === 1
        ? { documentId: document.id, text: first, textPair: second, label }
        : { documentId: document.id, text: second, textPair: first, label };
    });
  });
  return assembleTask(
    {
      name: 'sentence-order',
      description: `Two consecutive sentences (${sources.join(', ')}) -> in original order or swapped`,
      type: 'sentence-pair',
      metric: 'accuracy',
      labels: [...SENTENCE_ORDER_LABELS],
    },
    examples,
    options,
  );
}
