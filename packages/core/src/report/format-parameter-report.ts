import type { ParameterReport } from './parameter-report';

/**
 * The report as an aligned text table: a summary, then one row per method.
 *
 * @example
 * console.log(formatParameterReport(peftModel.report()));
 */
export function formatParameterReport(report: ParameterReport): string {
  const summary: Array<[string, string]> = [
    ['total', count(report.total)],
    ['trainable', `${count(report.trainable)} (${pct(report.trainablePercent)})`],
    ['changed', report.changed === undefined ? 'not tracked' : `${count(report.changed)} (${pct(report.changedPercent ?? 0)})${report.changedMeasuredMerged ? ', measured merged' : ''}`],
    ['adapter file', bytes(report.adapterBytes)],
  ];
  const labelWidth = Math.max(...summary.map(([label]) => label.length));
  const lines = [`adapter "${report.adapterName}"`, ...summary.map(([label, value]) => `  ${label.padEnd(labelWidth)}  ${value}`)];
  const header = ['method', 'kind', 'trainable', 'added', 'saved', 'mergeable'];
  const rows = report.perMethod.map((m) => [m.name, m.kind, count(m.trainable), count(m.added), count(m.stateEntries), m.mergeable ? 'yes' : 'no']);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  // Text columns left-aligned, number columns right-aligned.
  const numeric = [false, false, true, true, true, false];
  const render = (cells: readonly string[]): string => `  ${cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()}`;
  lines.push('', render(header), render(widths.map((w) => '-'.repeat(w))), ...rows.map(render));
  return lines.join('\n');
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

function pct(value: number): string {
  return `${value < 0.01 && value > 0 ? value.toPrecision(2) : value.toFixed(2)}%`;
}

function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  if (value < 1024 ** 2) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 ** 2).toFixed(2)} MiB`;
}
