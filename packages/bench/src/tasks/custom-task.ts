import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { PeftError, describeValue, invalidArgument } from '@peftjs/core';
import { assembleTask } from './assemble-task';
import type { TaskSplitOptions } from './assemble-task';
import type { TextExample, TextTask } from './task';

/** How to read a user's labelled text file into a task. */
export interface CustomTaskOptions extends TaskSplitOptions {
  /** Column (TSV header name or JSON key) holding the text. Default 'sentence'. */
  textColumn?: string;
  /** Column holding the second text of a sentence pair (optional). */
  textPairColumn?: string;
  /** Column holding the label. Default 'label'. */
  labelColumn?: string;
  /** The allowed labels, in id order. Default: the distinct labels of the file, sorted. */
  labels?: readonly string[];
  /** Task name. Default: the file name without extension. */
  name?: string;
}

type Row = Record<string, unknown>;

/**
 * Reads a GLUE-style TSV file (header row, tab-separated, no quoting) or a JSONL file (one JSON
 * object per line) into a classification task. Every row is its own document, so the seeded
 * 80/10/10 split and the duplicate removal of the built-in tasks apply unchanged.
 *
 * @example
 * const task = await loadCustomTask('train.tsv', { textColumn: 'sentence', labelColumn: 'label' });
 */
export async function loadCustomTask(path: string, options: CustomTaskOptions = {}): Promise<TextTask> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    throw new PeftError('invalid-argument', `Cannot read the data file ${describeValue(path)}: ${(error as Error).message}.`, {
      field: 'data',
      value: path,
      allowed: 'a readable .tsv or .jsonl file',
      cause: error,
    });
  }
  const extension = extname(path).toLowerCase();
  const name = options.name ?? baseName(path);
  if (extension === '.tsv') return taskFromRows(name, parseTsv(content), options);
  if (extension === '.jsonl' || extension === '.ndjson') return taskFromRows(name, parseJsonl(content), options);
  return invalidArgument('data', path, 'a file ending in .tsv (GLUE-style, header row) or .jsonl (one JSON object per line)');
}

/** Turns parsed rows into a task: checks the columns and labels, then splits by row. */
export function taskFromRows(name: string, rows: readonly Row[], options: CustomTaskOptions = {}): TextTask {
  const textColumn = options.textColumn ?? 'sentence';
  const labelColumn = options.labelColumn ?? 'label';
  if (rows.length === 0) invalidArgument('data', '(no rows)', 'a file with at least one example row');
  const columns = Object.keys(rows[0]!);
  for (const [option, column] of [
    ['text-column', textColumn],
    ['label-column', labelColumn],
    ['text-pair-column', options.textPairColumn],
  ] as const) {
    if (column !== undefined && !columns.includes(column)) invalidArgument(option, column, columns.map((c) => JSON.stringify(c)));
  }
  const rawLabels = rows.map((row, i) => cellText(row, labelColumn, i));
  const labels = options.labels ? [...options.labels] : [...new Set(rawLabels)].sort(compareLabels);
  if (labels.length < 2 && !options.labels) invalidArgument('label-column', labelColumn, `a column with at least 2 distinct labels (found ${describeValue(labels)})`);
  const labelIds = new Map(labels.map((label, id) => [label, id]));
  const examples = rows.map((row, i): TextExample => {
    const label = labelIds.get(rawLabels[i]!);
    if (label === undefined) invalidArgument(`labels (row ${i + 1}, column "${labelColumn}")`, rawLabels[i], labels);
    const example: TextExample = { documentId: `row-${i + 1}`, text: cellText(row, textColumn, i), label };
    if (options.textPairColumn !== undefined) example.textPair = cellText(row, options.textPairColumn, i);
    return example;
  });
  return assembleTask(
    {
      name,
      description: `User data: "${textColumn}"${options.textPairColumn ? ` + "${options.textPairColumn}"` : ''} -> "${labelColumn}" (${labels.length} labels).`,
      type: options.textPairColumn === undefined ? 'sequence-classification' : 'sentence-pair',
      metric: 'accuracy',
      labels,
    },
    examples,
    options,
  );
}

/** GLUE-style TSV: the first line names the columns; a row with another field count is an error. */
export function parseTsv(content: string): Row[] {
  const lines = content.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) invalidArgument('data', '(empty file)', 'a TSV file with a header row');
  const header = lines[0]!.split('\t');
  return lines.slice(1).map((line, i) => {
    const cells = line.split('\t');
    if (cells.length !== header.length) invalidArgument(`data (TSV line ${i + 2})`, line, `${header.length} tab-separated fields like the header (${header.join(', ')})`);
    return Object.fromEntries(header.map((column, c) => [column, cells[c]!]));
  });
}

/** JSONL: one object per non-empty line. */
export function parseJsonl(content: string): Row[] {
  const rows: Row[] = [];
  content.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      invalidArgument(`data (JSONL line ${i + 1})`, line, 'one JSON object per line');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) invalidArgument(`data (JSONL line ${i + 1})`, value, 'a JSON object');
    rows.push(value as Row);
  });
  return rows;
}

function cellText(row: Row, column: string, index: number): string {
  const value = row[column];
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return invalidArgument(`row ${index + 1}, column "${column}"`, value, 'a non-empty string or number');
}

/** Numeric labels in numeric order ("2" before "10"), others alphabetically. */
function compareLabels(a: string, b: string): number {
  const numeric = Number(a) - Number(b);
  return Number.isNaN(numeric) ? a.localeCompare(b) : numeric;
}

function baseName(path: string): string {
  const file = path.split(/[\\/]/).pop() ?? path;
  return file.replace(/\.[^.]+$/, '') || 'custom';
}
