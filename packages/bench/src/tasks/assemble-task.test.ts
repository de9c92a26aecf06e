import { PeftError } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { assembleTask } from './assemble-task';
import { splitDocuments } from './document-split';
import { deduplicate, normalizeForDeduplication } from './deduplicate';
import type { TextExample } from './task';

const ids = Array.from({ length: 50 }, (_, i) => `doc-${i}`);

describe('splitDocuments', () => {
  it('is seeded, deterministic, independent of input order, and cuts at the fractions', () => {
    const split = splitDocuments(ids, 7, { validation: 0.2, test: 0.1 });
    expect(splitDocuments([...ids].reverse(), 7, { validation: 0.2, test: 0.1 })).toEqual(split);
    const counts = { train: 0, validation: 0, test: 0 };
    for (const name of split.values()) counts[name] += 1;
    expect(counts).toEqual({ train: 35, validation: 10, test: 5 });
    const other = splitDocuments(ids, 8, { validation: 0.2, test: 0.1 });
    expect([...other].some(([id, name]) => split.get(id) !== name)).toBe(true);
  });

  it('rejects fractions that leave no training data', () => {
    expect(() => splitDocuments(ids, 1, { validation: 0.5, test: 0.5 })).toThrowError(PeftError);
  });
});

describe('deduplication', () => {
  it('normalizes case, punctuation and spacing', () => {
    expect(normalizeForDeduplication('  Hello,   WORLD!! ')).toBe('hello world');
  });

  it('keeps the first of duplicates and removes held-out copies of training examples', () => {
    const examples: TextExample[] = ids.flatMap((documentId, i) => [
      { documentId, text: `Sentence number ${i}.`, label: i % 2 },
      { documentId, text: i % 5 === 0 ? 'The SAME text!' : `other ${i}`, label: 0 },
    ]);
    const task = assembleTask(
      { name: 't', description: 't', type: 'sequence-classification', metric: 'accuracy', labels: ['a', 'b'] },
      examples,
      { seed: 3 },
    );
    const all = [...task.train, ...task.validation, ...task.test];
    expect(all.filter((example) => example.text.toLowerCase().startsWith('the same'))).toHaveLength(1);
    expect(task.train.some((example) => example.text === 'The SAME text!')).toBe(true);
    expect(all).toHaveLength(100 - 9);
    expect(deduplicate([{ documentId: 'x', text: 'A b', textPair: 'c', label: 0 }, { documentId: 'y', text: 'a, b', textPair: 'C', label: 1 }])).toHaveLength(1);
  });
});
