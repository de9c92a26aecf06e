import type { TaskCard } from '../tasks/task-card';
import type { ChartSpec } from './charts';
import { FULL_FINE_TUNING, type BenchResults } from './results';
import { summarizeResults } from './summary';
import { formatComparisonMarkdown } from './table';

export interface ReportMarkdownOptions {
  /** Heading of the report (default: "peftjs benchmark: <task> on <model>"). */
  title?: string;
  /** The task's card (`buildTaskCard`), summarized above the table with its baselines. */
  taskCard?: TaskCard;
  /** Charts embedded as `charts/<name>.png`, each linking its SVG. */
  charts?: readonly ChartSpec[];
}

/** What each number means and how it was measured; the runner fills the fields to these definitions. */
export const MEASUREMENT_NOTES: readonly string[] = [
  '**Score**: the task metric on the test split, ×100, mean ± sample standard deviation (n − 1) over seeds; "—" where only one seed ran (one run measures no spread).',
  '**Trainable params**: parameter entries the optimizer updates; % of all entries of the run (base model plus what the method adds), as `@peftjs/core`\'s parameter report and HF PEFT count them.',
  '**Changed params**: entries whose value differs from the base model after training, measured with the adapter merged when every method can merge (a low-rank update changes whole matrices); "—" where not tracked. Trainable and changed counts differ by orders of magnitude for some methods (Lialin et al., §12).',
  '**Peak memory**: the peak bytes of a training step as `@peftjs/core`\'s MemoryMeter measures them (each tensor data buffer counted once, the resident baseline subtracted), mean over seeds; ×full is the ratio to full fine-tuning in these same results.',
  '**Throughput**: input tokens (padding excluded) per second over the training steps and over evaluation forward passes; reparametrizations are not merged for inference, as in the survey (Lialin et al., §11.3). % of full is relative to full fine-tuning measured here, on the same backend.',
  '**Adapter size**: bytes of the saved adapter file (for full fine-tuning, the whole model).',
];

function formatInteger(value: number): string {
  return value.toLocaleString('en-US');
}

function taskSummary(results: BenchResults, card: TaskCard | undefined): string[] {
  const { task } = results;
  const sizes = `${formatInteger(task.sizes.train)} / ${formatInteger(task.sizes.validation)} / ${formatInteger(task.sizes.test)}`;
  const lines = [`**${task.name}** (${task.type}): train / validation / test examples ${sizes}; metric ${task.metric}.`];
  if (card) {
    const percent = (value: number) => `${(100 * value).toFixed(1)}%`;
    lines.push(
      `${card.labels.length} labels (${card.labels.join(', ')}). Baselines on the test split: majority ${percent(card.baselines.majority)}, ` +
        `bag of words (${card.baselines.bagOfWordsModel}) ${percent(card.baselines.bagOfWords)}.`,
    );
  }
  return lines;
}

function setupLines(results: BenchResults): string[] {
  const lines = [`Created ${results.createdAt}. Model **${results.model.name}**: \`${JSON.stringify(results.model.config)}\`.`];
  if (results.training && Object.keys(results.training).length > 0) lines.push(`Training: \`${JSON.stringify(results.training)}\`.`);
  if (results.versions && Object.keys(results.versions).length > 0) {
    lines.push(`Versions: ${Object.entries(results.versions).map(([name, version]) => `${name} ${version}`).join(', ')}.`);
  }
  return lines;
}

/** Each method's configuration (from its first run) and seeds, in the table's order. */
function methodLines(results: BenchResults): string[] {
  return summarizeResults(results).methods.map(({ method }) => {
    const runs = results.runs.filter((run) => run.method === method);
    const configs = runs[0]!.methodConfigs;
    const described =
      configs.length > 0 ? `\`${JSON.stringify(configs)}\`` : method === FULL_FINE_TUNING ? 'every parameter trained' : 'no method config recorded';
    return `- **${method}** (${runs.length === 1 ? 'seed' : 'seeds'} ${runs.map((run) => run.seed).join(', ')}): ${described}`;
  });
}

/**
 * The comparison table once per family (the runs' `family`: a method package, `hybrid`), each
 * with the full fine-tuning rows, so the ratios stay against the same reference.
 */
function familySections(results: BenchResults): string[] {
  const familyOf = (run: BenchResults['runs'][number]) => run.family ?? (run.method === FULL_FINE_TUNING ? FULL_FINE_TUNING : 'other');
  const families = [...new Set(results.runs.map(familyOf))].filter((family) => family !== FULL_FINE_TUNING);
  return families.map((family) => {
    const runs = results.runs.filter((run) => familyOf(run) === family || run.method === FULL_FINE_TUNING);
    return `### ${family}\n\n${formatComparisonMarkdown({ ...results, runs, failedRuns: undefined })}`;
  });
}

/** One line per failed run: method, seed, error code and the first line of the message. */
function failedRunLines(results: BenchResults): string[] {
  return [
    '| method | seed | error |',
    '| --- | ---: | --- |',
    ...(results.failedRuns ?? []).map((run) => `| ${run.method} | ${run.seed} | ${run.code ? `\`${run.code}\` ` : ''}${run.message.split('\n')[0]!.replace(/\|/g, '\\|')} |`),
  ];
}

/**
 * The report as Markdown: title, setup (backend in the table caption), task summary, the
 * comparison table, charts, the method configurations, and how each number was measured.
 */
export function formatReportMarkdown(results: BenchResults, options: ReportMarkdownOptions = {}): string {
  const title = options.title ?? `peftjs benchmark: ${results.task.name} on ${results.model.name}`;
  const sections = [
    `# ${title}`,
    setupLines(results).join('\n'),
    `## Task\n\n${taskSummary(results, options.taskCard).join('\n')}`,
    `## Results\n\n${formatComparisonMarkdown(results)}`,
  ];
  const charts = options.charts ?? [];
  if (charts.length > 0) {
    sections.push(`## Charts\n\n${charts.map((chart) => `![${chart.title}](charts/${chart.name}.png)\n\n[SVG](charts/${chart.name}.svg)`).join('\n\n')}`);
  }
  const families = familySections(results);
  if (families.length > 1) sections.push(`## By family\n\n${families.join('\n\n')}`);
  if (results.failedRuns?.length) sections.push(`## Failed runs\n\n${failedRunLines(results).join('\n')}`);
  sections.push(`## Methods\n\n${methodLines(results).join('\n')}`);
  sections.push(`## How each number was measured\n\n${MEASUREMENT_NOTES.map((note) => `- ${note}`).join('\n')}`);
  return `${sections.join('\n\n')}\n`;
}
