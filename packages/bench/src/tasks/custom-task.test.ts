import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeftError } from '@peftjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCustomTask, parseJsonl, parseTsv, taskFromRows } from './custom-task';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peftjs-custom-task-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rows = (count: number) => Array.from({ length: count }, (_, i) => ({ sentence: `sentence number ${i} is ${i % 2 ? 'good' : 'bad'}`, label: String(i % 2) }));

describe('loadCustomTask', () => {
  it('reads a GLUE-style TSV into a task split by row, every row kept once', async () => {
    const path = join(dir, 'sst.tsv');
    await writeFile(path, ['sentence\tlabel', ...rows(40).map((row) => `${row.sentence}\t${row.label}`)].join('\n') + '\n');
    const task = await loadCustomTask(path);
    expect(task.name).toBe('sst');
    expect(task.type).toBe('sequence-classification');
    expect(task.labels).toEqual(['0', '1']);
    const all = [...task.train, ...task.validation, ...task.test];
    expect(all).toHaveLength(40);
    expect(new Set(all.map((example) => example.documentId)).size).toBe(40);
    expect(task.train.length).toBeGreaterThan(task.test.length);
    for (const example of all) {
      const index = Number(example.documentId.replace('row-', '')) - 1;
      expect(example.text).toBe(rows(40)[index]!.sentence);
      expect(example.label).toBe(index % 2);
    }
  });

  it('reads JSONL with a pair column and fixed labels', async () => {
    const path = join(dir, 'pairs.jsonl');
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ premise: `p ${i}`, hypothesis: `h ${i}`, gold: i % 3 === 0 ? 'yes' : 'no' }));
    await writeFile(path, lines.join('\n'));
    const task = await loadCustomTask(path, { textColumn: 'premise', textPairColumn: 'hypothesis', labelColumn: 'gold', labels: ['no', 'yes'] });
    expect(task.type).toBe('sentence-pair');
    const all = [...task.train, ...task.validation, ...task.test];
    const first = all.find((example) => example.documentId === 'row-1')!;
    expect(first).toMatchObject({ text: 'p 0', textPair: 'h 0', label: 1 });
    expect(all.find((example) => example.documentId === 'row-2')!.label).toBe(0);
  });

  it('names the option, the value and what is allowed for bad input', async () => {
    const expectError = async (promise: Promise<unknown>, field: RegExp, message: RegExp) => {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      expect(PeftError.isInstance(error)).toBe(true);
      expect((error as PeftError).field).toMatch(field);
      expect((error as PeftError).message).toMatch(message);
    };
    const tsv = join(dir, 'ok.tsv');
    await writeFile(tsv, 'sentence\tlabel\na b\t0\nc d\t1\n');
    await expectError(loadCustomTask(join(dir, 'missing.tsv')), /^data$/, /Cannot read the data file .*missing\.tsv/);
    await expectError(loadCustomTask(join(dir, 'ok.csv')), /^data$/, /Cannot read/);
    await writeFile(join(dir, 'ok.csv'), 'x');
    await expectError(loadCustomTask(join(dir, 'ok.csv')), /^data$/, /\.tsv.*\.jsonl/);
    await expectError(loadCustomTask(tsv, { textColumn: 'text' }), /^text-column$/, /got "text"; allowed: "sentence", "label"/);
    await expectError(loadCustomTask(tsv, { labelColumn: 'gold' }), /^label-column$/, /got "gold"/);
    await expectError(loadCustomTask(tsv, { labels: ['neg', 'pos'] }), /labels \(row 1/, /got "0"; allowed: neg, pos/);
  });

  it('rejects malformed rows with their line number', () => {
    expect(() => parseTsv('a\tb\n1\t2\t3\n')).toThrow(/TSV line 2/);
    expect(() => parseJsonl('{"a": 1}\nnot json\n')).toThrow(/JSONL line 2/);
    expect(() => parseJsonl('[1, 2]')).toThrow(/JSONL line 1.*a JSON object/);
    expect(() => taskFromRows('t', [{ sentence: 'x', label: 'a' }, { sentence: 'y', label: 'a' }])).toThrow(/at least 2 distinct labels/);
    expect(() => taskFromRows('t', [{ sentence: '', label: 'a' }, { sentence: 'y', label: 'b' }])).toThrow(/row 1, column "sentence"/);
  });
});
