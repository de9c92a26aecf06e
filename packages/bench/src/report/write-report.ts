import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@peftjs/core';
import { renderChart, reportCharts, type ChartRenderOptions } from './charts';
import { formatReportMarkdown, type ReportMarkdownOptions } from './report-markdown';
import { parseBenchResults, writeResultsJson, type BenchResults } from './results';

export type WriteReportOptions = Omit<ReportMarkdownOptions, 'charts'> & ChartRenderOptions;

/**
 * Writes the benchmark report into `dir` (created if missing), every file atomically:
 * `results.json`, `charts/<name>.svg` and `charts/<name>.png` for each chart the results can draw,
 * and `report.md` (table, embedded charts, measurement notes). Returns the written paths.
 *
 * @example
 * const files = await writeReport('bench-out', results, { taskCard: buildTaskCard(task) });
 * // ['bench-out/results.json', 'bench-out/charts/score-vs-trainable.svg', ..., 'bench-out/report.md']
 */
export async function writeReport(dir: string, results: BenchResults, options: WriteReportOptions = {}): Promise<string[]> {
  const validated = parseBenchResults(results);
  const { title, taskCard, ...renderOptions } = options;
  await mkdir(join(dir, 'charts'), { recursive: true });
  const files = [await writeResultsJson(dir, validated)];
  const charts = reportCharts(validated);
  for (const chart of charts) {
    const { svg, png } = await renderChart(chart.spec, renderOptions);
    const svgPath = join(dir, 'charts', `${chart.name}.svg`);
    const pngPath = join(dir, 'charts', `${chart.name}.png`);
    await writeFileAtomic(svgPath, svg);
    await writeFileAtomic(pngPath, png);
    files.push(svgPath, pngPath);
  }
  const reportPath = join(dir, 'report.md');
  await writeFileAtomic(reportPath, formatReportMarkdown(validated, { title, taskCard, charts }));
  files.push(reportPath);
  return files;
}
