import { formatBytes, formatCount, formatPercent, formatRatio } from './format-numbers';
import type { BenchResults } from './results';
import { summarizeResults, type MethodSummary, type ResultsSummary, type SeedStatistic } from './summary';

/** Shown where a value was not measured (one seed's std, untracked changed parameters). */
export const NOT_MEASURED = '—';
/** Shown for ratios to full fine-tuning when the results have no `full` run. */
export const NO_REFERENCE = 'n/a';

/** A table ready to render: a caption line, headers, cells, and which columns hold numbers. */
export interface ComparisonTable {
  caption: string;
  headers: string[];
  rows: string[][];
  /** Numeric columns are right-aligned. */
  numeric: boolean[];
}

/** Scores are shown ×100 with one decimal, as GLUE-style results are reported. */
function formatScore(statistic: SeedStatistic): string {
  const std = statistic.std === null ? NOT_MEASURED : (100 * statistic.std).toFixed(1);
  return `${(100 * statistic.mean).toFixed(1)} ± ${std}`;
}

function withShare(value: string, share: string | null): string {
  return `${value} (${share ?? NO_REFERENCE})`;
}

function describeBackend(backend: BenchResults['backend']): string {
  return `${backend.name} (${backend.native ? 'native' : 'JavaScript/WebAssembly'} kernels on ${backend.gpu ? 'GPU' : 'CPU'})`;
}

/** The caption: which backend and machine measured the numbers, and on what. */
export function comparisonCaption(results: BenchResults, summary: ResultsSummary = summarizeResults(results)): string {
  const { backend, machine, task, model } = results;
  const parts = [
    `Backend: ${describeBackend(backend)}`,
    `${machine.platform}, ${machine.cpus} CPUs${machine.gpuModel ? `, ${machine.gpuModel}` : ''}, Node ${machine.node}`,
    `task ${task.name} (${task.type}, test ${task.metric})`,
    `model ${model.name} (${formatCount(model.parameters)} parameters)`,
  ];
  if (!summary.hasFull) parts.push(`no "full" run: ratios ${NO_REFERENCE}`);
  return parts.join(' · ');
}

/**
 * The comparison in the survey's Table 5 layout (Lialin, Deshpande, Rumshisky, "Scaling Down to
 * Scale Up: A Guide to Parameter-Efficient Fine-Tuning", §11.3, Table 5), with changed parameters
 * and adapter size added as the survey's §12 asks: one row per method, full fine-tuning first.
 */
export function comparisonTable(results: BenchResults): ComparisonTable {
  const summary = summarizeResults(results);
  const row = (method: MethodSummary): string[] => [
    method.method,
    String(method.seeds),
    formatScore(method.score),
    withShare(formatCount(method.trainableParameters), formatPercent(method.trainablePercent)),
    method.changedParameters === null || method.changedPercent === null
      ? NOT_MEASURED
      : withShare(formatCount(method.changedParameters), formatPercent(method.changedPercent)),
    withShare(formatBytes(method.peakMemoryBytes), method.peakMemoryRatio === null ? null : formatRatio(method.peakMemoryRatio)),
    withShare(formatCount(method.trainTokensPerSecond), method.trainThroughputPercent === null ? null : formatPercent(method.trainThroughputPercent)),
    withShare(formatCount(method.inferenceTokensPerSecond), method.inferenceThroughputPercent === null ? null : formatPercent(method.inferenceThroughputPercent)),
    formatBytes(method.adapterBytes),
  ];
  return {
    caption: comparisonCaption(results, summary),
    headers: [
      'method',
      'seeds',
      `${summary.metric} ×100 (mean ± std)`,
      'trainable params (%)',
      'changed params (%)',
      'peak memory (×full)',
      'train tok/s (% of full)',
      'infer tok/s (% of full)',
      'adapter size',
    ],
    rows: summary.methods.map(row),
    numeric: [false, true, true, true, true, true, true, true, true],
  };
}

/** The table as aligned text for the terminal: caption, header, a rule, then one line per method. */
export function formatComparisonText(results: BenchResults): string {
  const table = comparisonTable(results);
  const widths = table.headers.map((header, column) => Math.max(header.length, ...table.rows.map((row) => row[column]!.length)));
  const render = (cells: readonly string[]): string =>
    cells.map((cell, column) => (table.numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return [table.caption, '', render(table.headers), render(widths.map((width) => '-'.repeat(width))), ...table.rows.map(render)].join('\n');
}

/** The table as GitHub Markdown: the caption as a paragraph, then the table (numbers right-aligned). */
export function formatComparisonMarkdown(results: BenchResults): string {
  const table = comparisonTable(results);
  const line = (cells: readonly string[]): string => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [
    table.caption,
    '',
    line(table.headers),
    `| ${table.numeric.map((numeric) => (numeric ? '---:' : '---')).join(' | ')} |`,
    ...table.rows.map(line),
  ].join('\n');
}
