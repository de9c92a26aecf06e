import { describe, expect, it } from 'vitest';
import type { CorpusDocument } from '../corpora/corpus-document';
import { loadSotu } from '../corpora/sotu';
import { loadWordNetNouns } from '../corpora/wordnet';
import { buildBrownPosTask } from './brown-pos-task';
import { UNIVERSAL_TAGS, brownToUniversal } from './brown-tag-map';
import { buildSentenceOrderTask } from './sentence-order-task';
import { SOTU_ERAS, buildSotuEraTask, sotuEraOf } from './sotu-era-task';
import { TASK_SPLITS, isTokenExample, type BenchTask } from './task';
import { buildWordNetCategoryTask } from './wordnet-category-task';

function expectNoDocumentOverlap(task: BenchTask): void {
  const [train, validation, test] = TASK_SPLITS.map((split) => new Set(task[split].map((example) => example.documentId)));
  for (const id of test!) expect(train!.has(id) || validation!.has(id)).toBe(false);
  for (const id of validation!) expect(train!.has(id)).toBe(false);
  expect(train!.size).toBeGreaterThan(0);
  expect(test!.size).toBeGreaterThan(0);
}

function expectLabelsInRange(task: BenchTask): void {
  for (const split of TASK_SPLITS) {
    for (const example of task[split]) {
      const labels = isTokenExample(example) ? example.tags : [example.label];
      for (const label of labels) expect(label >= 0 && label < task.labels.length).toBe(true);
    }
  }
}

describe('wordnet-category task', () => {
  const options = { topCategories: 4, maxPerCategory: 60 };
  const task = buildWordNetCategoryTask(options);

  it('takes the largest categories as labels and the definition as text', () => {
    const sizes = new Map<string, number>();
    for (const synset of loadWordNetNouns()) sizes.set(synset.metadata.category, (sizes.get(synset.metadata.category) ?? 0) + 1);
    const largest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([category]) => category).sort();
    expect(task.labels).toEqual(largest);
    const byId = new Map(loadWordNetNouns().map((synset) => [synset.id, synset]));
    for (const example of task.train.slice(0, 20)) {
      const synset = byId.get(example.documentId)!;
      expect(example.text).toBe(synset.text);
      expect(task.labels[example.label]).toBe(synset.metadata.category);
    }
    expect(task.train.length + task.validation.length + task.test.length).toBeLessThanOrEqual(240);
    expectLabelsInRange(task);
    expectNoDocumentOverlap(task);
  });

  it('is deterministic and changes with the seed', () => {
    expect(buildWordNetCategoryTask(options)).toEqual(task);
    expect(buildWordNetCategoryTask({ ...options, seed: 99 }).test).not.toEqual(task.test);
  });
});

describe('sotu-era task', () => {
  const documents = loadSotu().filter((_, index) => index % 8 === 0);
  const task = buildSotuEraTask({ documents, maxChunksPerDocument: 4 });

  it('maps years to eras at the boundaries', () => {
    expect([1790, 1860, 1861, 1900, 1901, 1945, 1946, 1980, 1981, 2021].map(sotuEraOf)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(task.labels).toHaveLength(SOTU_ERAS.length);
  });

  it('cuts two consecutive sentences of an address, labelled with its era, split by address and era', () => {
    const byId = new Map(documents.map((document) => [document.id, document]));
    for (const example of [...task.train, ...task.test]) {
      const document = byId.get(example.documentId)!;
      expect(example.label).toBe(sotuEraOf(document.metadata.year));
      const start = document.sentences.findIndex((sentence) => example.text.startsWith(`${sentence} `));
      expect(start).toBeGreaterThanOrEqual(0);
      expect(example.text).toBe(`${document.sentences[start]} ${document.sentences[start + 1]}`);
    }
    expectNoDocumentOverlap(task);
    // Stratified: every era with at least two addresses has one in the test split.
    const testEras = new Set(task.test.map((example) => example.label));
    for (let era = 0; era < SOTU_ERAS.length; era += 1) {
      if (documents.filter((document) => sotuEraOf(document.metadata.year) === era).length >= 2) expect(testEras.has(era)).toBe(true);
    }
    expect(buildSotuEraTask({ documents, maxChunksPerDocument: 4 })).toEqual(task);
  });
});

describe('sentence-order task', () => {
  const sentences = (prefix: string) => Array.from({ length: 12 }, (_, i) => `${prefix} sentence number ${i} here.`);
  const documents: CorpusDocument<unknown>[] = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'].map((name) => ({
    id: name,
    text: '',
    sentences: sentences(name),
    metadata: {},
  }));
  const task = buildSentenceOrderTask({ documents, fractions: { validation: 0.2, test: 0.2 } });

  it('pairs consecutive sentences, swaps exactly half of each document, and labels them', () => {
    const all = [...task.train, ...task.validation, ...task.test];
    expect(all).toHaveLength(30);
    for (const document of documents) {
      const examples = all.filter((example) => example.documentId === document.id);
      expect(examples.filter((example) => example.label === 1)).toHaveLength(3);
      for (const example of examples) {
        const [first, second] = example.label === 1 ? [example.text, example.textPair!] : [example.textPair!, example.text];
        const index = document.sentences.indexOf(first);
        expect(index % 2).toBe(0);
        expect(document.sentences[index + 1]).toBe(second);
      }
    }
    expect(task.labels).toEqual(['swapped', 'in-order']);
    expectNoDocumentOverlap(task);
    expect(buildSentenceOrderTask({ documents, fractions: { validation: 0.2, test: 0.2 } })).toEqual(task);
  });

  it('builds from the installed Moby-Dick, balanced', () => {
    const real = buildSentenceOrderTask({ sources: ['moby-dick'], maxPairsPerDocument: 6 });
    const labels = [...real.train, ...real.validation, ...real.test].map((example) => example.label);
    const inOrder = labels.filter((label) => label === 1).length;
    expect(Math.abs(2 * inOrder - labels.length)).toBeLessThanOrEqual(136);
    expectNoDocumentOverlap(real);
  });
});

describe('brown-pos task', () => {
  it('maps Brown tags to the universal tag set', () => {
    const cases: [string, string][] = [
      ['at', 'DET'], ['np-tl', 'NOUN'], ['nn$', 'NOUN'], ['pp$', 'PRON'], ['pps+bez', 'PRON'], ['vbd', 'VERB'],
      ['bedz*', 'VERB'], ['md*', 'VERB'], ['*', 'ADV'], ['jjt', 'ADJ'], ['od', 'ADJ'], ['in-tl', 'ADP'], ['cs', 'CONJ'],
      ['cd', 'NUM'], ['to', 'PRT'], ['rp', 'PRT'], ['ql', 'ADV'], ['wdt', 'DET'], ['ex', 'DET'], ['fw-nn', 'X'],
      ['uh', 'X'], ['.', '.'], [',', '.'], ['``', '.'], ["''", '.'], ['--', '.'], ['(-hl', '.'],
    ];
    for (const [tag, universal] of cases) expect([tag, brownToUniversal(tag)]).toEqual([tag, universal]);
  });

  it('tags each word, splits by file, and is deterministic', () => {
    const task = buildBrownPosTask({ maxDocuments: 20 });
    expect(task.labels).toEqual([...UNIVERSAL_TAGS]);
    for (const example of task.train) {
      expect(example.tags).toHaveLength(example.tokens.length);
      expect(example.tokens.length).toBeLessThanOrEqual(48);
    }
    expect(new Set([...task.train, ...task.validation, ...task.test].map((example) => example.documentId)).size).toBe(20);
    expectLabelsInRange(task);
    expectNoDocumentOverlap(task);
    expect(buildBrownPosTask({ maxDocuments: 20 })).toEqual(task);
  });
});
