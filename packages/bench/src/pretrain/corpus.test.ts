import { describe, expect, it } from 'vitest';
import { loadBrown } from '../corpora/brown';
import type { CorpusDocument } from '../corpora/corpus-document';
import { loadMobyDick } from '../corpora/moby-dick';
import { loadSotu } from '../corpora/sotu';
import { loadWordNetNouns } from '../corpora/wordnet';
import type { BenchTask, TextExample } from '../tasks/task';
import { buildDownstreamTasks, buildPretrainingCorpus, normalizeSentence } from './corpus';

const doc = (id: string, sentences: string[]): CorpusDocument<unknown> => ({ id, text: sentences.join(' '), sentences, metadata: {} });

function taskWith(name: string, split: { train: string[]; validation: string[]; test: string[] }): BenchTask {
  const examples = (ids: string[]): TextExample[] => ids.map((documentId) => ({ documentId, text: documentId, label: 0 }));
  return { name, description: name, type: 'sequence-classification', metric: 'accuracy', labels: ['a'], train: examples(split.train), validation: examples(split.validation), test: examples(split.test) };
}

describe('buildPretrainingCorpus on hand-made documents', () => {
  const sotu = Array.from({ length: 50 }, (_, i) => doc(`s${i}`, [`Sentence one of ${i}.`, `Sentence two of ${i}.`]));
  const moby = [doc('m0', ['Call me Ishmael.', 'Shared  LINE here.']), doc('m1', ['shared line here.', 'Only in m1.']), doc('m2', ['Kept.'])];
  const tasks = [taskWith('t1', { train: ['s0', 'm2'], validation: ['s1'], test: ['s2', 'm1'] }), taskWith('t2', { train: ['s1'], validation: [], test: ['s3'] })];
  const build = () => buildPretrainingCorpus({ sources: ['sotu', 'moby-dick'], documents: { sotu, 'moby-dick': moby }, tasks, evaluationFraction: 0.1, seed: 3 });
  const corpus = build();
  const ids = [...corpus.train, ...corpus.evaluation].map((d) => d.id);

  it('excludes every validation/test document of every task, and nothing else', () => {
    for (const id of ['s1', 's2', 's3', 'm1']) expect(ids).not.toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(50 + 3 - 4);
    expect(corpus.heldOut.documentIds).toEqual(['m1', 's1', 's2', 's3']);
    expect(corpus.sources.map((s) => s.heldOutForTasks)).toEqual([3, 1]);
  });

  it('drops sentences of kept documents that also occur in a held-out document (case and spaces ignored)', () => {
    const m0 = [...corpus.train, ...corpus.evaluation].find((d) => d.id === 'm0')!;
    expect(m0.sentences).toEqual(['Call me Ishmael.']);
    expect(corpus.heldOut.droppedDuplicateSentences).toBe(1);
  });

  it('keeps a seeded share of each source aside for the MLM evaluation, deterministically', () => {
    expect(corpus.sources.map((s) => s.evaluationDocuments)).toEqual([5, 1]);
    expect(corpus.evaluation).toHaveLength(6);
    const train = new Set(corpus.train.map((d) => d.id));
    for (const d of corpus.evaluation) expect(train.has(d.id)).toBe(false);
    expect(build()).toEqual(corpus);
    const other = buildPretrainingCorpus({ sources: ['sotu', 'moby-dick'], documents: { sotu, 'moby-dick': moby }, tasks, evaluationFraction: 0.1, seed: 4 });
    expect(other.evaluation.map((d) => d.id)).not.toEqual(corpus.evaluation.map((d) => d.id));
  });
});

describe('buildPretrainingCorpus on the installed corpora', () => {
  it('contains no validation or test document, nor any of their sentences, of any built-in task', () => {
    const tasks = buildDownstreamTasks();
    const corpus = buildPretrainingCorpus({ tasks });
    const used = new Set([...corpus.train, ...corpus.evaluation].map((d) => d.id));
    let heldOut = 0;
    for (const task of tasks) {
      expect(task.validation.length + task.test.length).toBeGreaterThan(0);
      for (const example of [...task.validation, ...task.test]) {
        heldOut += 1;
        expect(used.has(example.documentId)).toBe(false);
      }
    }
    expect(heldOut).toBeGreaterThan(10_000);
    const pretrainingSentences = new Set([...corpus.train, ...corpus.evaluation].flatMap((d) => d.sentences.map(normalizeSentence)));
    const heldOutIds = new Set(corpus.heldOut.documentIds);
    const heldOutDocuments = [...loadSotu(), ...loadMobyDick(), ...loadBrown(), ...loadWordNetNouns()].filter((d) => heldOutIds.has(d.id));
    expect(heldOutDocuments.length).toBe(heldOutIds.size);
    for (const document of heldOutDocuments) for (const sentence of document.sentences) expect(pretrainingSentences.has(normalizeSentence(sentence))).toBe(false);
    const brownTest = tasks.find((task) => task.name === 'brown-pos')!.test;
    expect(brownTest.some((example) => 'tokens' in example && pretrainingSentences.has(normalizeSentence(example.tokens.join(' '))))).toBe(false);
    expect(corpus.sources.map((s) => s.source)).toEqual(['sotu', 'moby-dick', 'brown', 'wordnet']);
    for (const source of corpus.sources) expect(source.trainDocuments).toBeGreaterThan(0);
  });
});
