import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { FULL_FINE_TUNING, type BenchResults } from './results';
import { summarizeResults } from './summary';

/**
 * The font families charts ask for, first available wins. resvg draws no text at all without a
 * font, so it loads the system fonts (DejaVu Sans on most Linux images, Helvetica/Arial elsewhere);
 * on a machine without any, pass `fontFiles` or `fontDirs` to `renderChart`.
 */
export const CHART_FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const CHART_CONFIG = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const },
};

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** One chart of the report. */
export interface ChartSpec {
  /** File stem: `charts/<name>.svg` and `.png`. */
  name: string;
  /** What the chart shows (alt text in report.md). */
  title: string;
  spec: TopLevelSpec;
}

/**
 * Score against trainable parameters (log x), one point per method with a mean ± std error bar:
 * the trade-off the survey compares in §11 (Lialin, Deshpande, Rumshisky). A method with no
 * trainable parameters cannot sit on a log axis and is left out.
 */
export function scoreVsTrainableChart(results: BenchResults): ChartSpec {
  const summary = summarizeResults(results);
  const values = summary.methods
    .filter((method) => method.trainablePercent > 0)
    .map((method) => {
      const score = 100 * method.score.mean;
      const spread = 100 * (method.score.std ?? 0);
      return { method: method.method, trainablePercent: method.trainablePercent, score, lower: score - spread, upper: score + spread };
    });
  // A margin of a factor 1.6 on the log axis keeps the end points off the frame, where a nice
  // domain would add whole empty decades (up to 1000%).
  const percents = values.map((value) => value.trainablePercent);
  const domain = percents.length > 0 ? { domain: [Math.min(...percents) / 1.6, Math.max(...percents) * 1.6], nice: false } : {};
  const x = {
    field: 'trainablePercent',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, ...domain },
    title: 'trainable parameters (% of total, log scale)',
  };
  const y = { field: 'score', type: 'quantitative' as const, scale: { zero: false, padding: 24 }, title: `${summary.metric} ×100 (mean ± std over seeds)` };
  const color = { field: 'method', type: 'nominal' as const, legend: null, scale: { scheme: 'tableau10' } };
  const title = `${summary.metric} vs trainable parameters`;
  return {
    name: 'score-vs-trainable',
    title,
    spec: {
      $schema: SCHEMA,
      title,
      width: 480,
      height: 300,
      config: CHART_CONFIG,
      data: { values },
      layer: [
        { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { ...y, field: 'lower' }, y2: { field: 'upper' }, color } },
        { mark: { type: 'point', filled: true, size: 70 }, encoding: { x, y, color } },
        { mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 11 }, encoding: { x, y, text: { field: 'method' }, color } },
      ],
    },
  };
}

/**
 * Peak training memory against batch size, one line per method: the shape of Figure 2 (left) of
 * "Memory-Efficient Selective Fine-Tuning" (Simoulin, Park, Liu, Yang). Undefined without a sweep.
 */
export function memorySweepChart(results: BenchResults): ChartSpec | undefined {
  const sweep = results.memorySweep;
  if (!sweep || sweep.length === 0) return undefined;
  const batches = [...new Set(sweep.map((point) => point.batch))].sort((a, b) => a - b);
  const values = sweep.map((point) => ({ method: point.method, batch: point.batch, peakMegabytes: point.peakBytes / 1e6 }));
  const title = 'Peak training memory vs batch size';
  return {
    name: 'memory-vs-batch',
    title,
    spec: {
      $schema: SCHEMA,
      title,
      width: 420,
      height: 280,
      config: CHART_CONFIG,
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'batch', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: batches, format: 'd' }, title: 'batch size (log scale)' },
        y: { field: 'peakMegabytes', type: 'quantitative', title: 'peak memory (MB)' },
        color: { field: 'method', type: 'nominal', title: 'method', scale: { scheme: 'tableau10' } },
      },
    },
  };
}

/**
 * Train and inference throughput as % of full fine-tuning (the survey's Table 5 throughput
 * columns as bars, 100% marked); undefined without a `full` run to compare with.
 */
export function throughputChart(results: BenchResults): ChartSpec | undefined {
  const summary = summarizeResults(results);
  if (!summary.hasFull) return undefined;
  const order = summary.methods.map((method) => method.method);
  const values = summary.methods.flatMap((method) => [
    { method: method.method, phase: 'train', percent: method.trainThroughputPercent ?? 0 },
    { method: method.method, phase: 'inference', percent: method.inferenceThroughputPercent ?? 0 },
  ]);
  const title = `Throughput relative to ${FULL_FINE_TUNING} fine-tuning`;
  return {
    name: 'throughput',
    title,
    spec: {
      $schema: SCHEMA,
      title,
      width: 420,
      config: CHART_CONFIG,
      layer: [
        {
          data: { values },
          mark: 'bar',
          encoding: {
            y: { field: 'method', type: 'nominal', sort: order, title: 'method' },
            yOffset: { field: 'phase', sort: ['train', 'inference'] },
            x: { field: 'percent', type: 'quantitative', title: 'tokens per second (% of full fine-tuning)' },
            color: { field: 'phase', type: 'nominal', sort: ['train', 'inference'], title: 'phase', scale: { range: ['#4c78a8', '#f58518'] } },
          },
        },
        { data: { values: [{ percent: 100 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#444' }, encoding: { x: { field: 'percent', type: 'quantitative' } } },
      ],
    },
  };
}

/** A method name as a file stem (`acme/lora+bitfit` -> `acme_lora+bitfit`). */
export function chartFileStem(name: string): string {
  return name.replace(/[^A-Za-z0-9.+_-]/g, '_');
}

/**
 * One method's training: train loss per step (a line per seed, left axis) and the validation
 * score at each evaluation (points, right axis). Undefined when its runs recorded no loss curve.
 */
export function lossCurveChart(results: BenchResults, method: string): ChartSpec | undefined {
  const runs = results.runs.filter((run) => run.method === method && run.lossCurve?.length);
  if (runs.length === 0) return undefined;
  const seed = (value: number) => `seed ${value}`;
  const losses = runs.flatMap((run) => run.lossCurve!.map((point) => ({ seed: seed(run.seed), step: point.step, loss: point.loss })));
  const evals = runs.flatMap((run) => (run.evalCurve ?? []).map((point) => ({ seed: seed(run.seed), step: point.step, score: 100 * point.score })));
  const metric = results.task.metric;
  const title = `${method}: train loss and validation ${metric}`;
  const x = { field: 'step', type: 'quantitative' as const, title: 'optimizer step' };
  const color = { field: 'seed', type: 'nominal' as const, title: 'seed', scale: { scheme: 'tableau10' } };
  return {
    name: `loss-${chartFileStem(method)}`,
    title,
    spec: {
      $schema: SCHEMA,
      title,
      width: 420,
      height: 240,
      config: CHART_CONFIG,
      layer: [
        { data: { values: losses }, mark: { type: 'line', strokeWidth: 1.2 }, encoding: { x, y: { field: 'loss', type: 'quantitative', title: 'train loss' }, color } },
        ...(evals.length
          ? [{ data: { values: evals }, mark: { type: 'point' as const, filled: true, size: 50, shape: 'diamond' }, encoding: { x, y: { field: 'score', type: 'quantitative' as const, title: `validation ${metric} ×100 (◆)` }, color } }]
          : []),
      ],
      resolve: { scale: { y: 'independent' } },
    } as TopLevelSpec,
  };
}

/** Every chart the results can draw, in report order: the comparisons, then a loss curve per method. */
export function reportCharts(results: BenchResults): ChartSpec[] {
  const methods = [...new Set(results.runs.map((run) => run.method))];
  return [scoreVsTrainableChart(results), memorySweepChart(results), throughputChart(results), ...methods.map((method) => lossCurveChart(results, method))].filter((chart) => chart !== undefined);
}

export interface ChartRenderOptions {
  /** PNG pixels per SVG pixel (default 2, sharp on high-density screens). */
  scale?: number;
  /** Load the system's fonts (default true). */
  loadSystemFonts?: boolean;
  /** Font files to load, for machines without system fonts. */
  fontFiles?: string[];
  fontDirs?: string[];
}

export interface RenderedChart {
  svg: string;
  png: Uint8Array;
  /** PNG size in pixels: the SVG's size times `scale`. */
  width: number;
  height: number;
}

/**
 * Renders a vega-lite spec to SVG headlessly (vega's View with renderer 'none' and `toSVG`, no
 * canvas or browser) and rasterizes it to PNG with resvg. The same spec gives the same bytes.
 */
export async function renderChart(spec: TopLevelSpec, options: ChartRenderOptions = {}): Promise<RenderedChart> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const image = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    background: 'white',
    font: {
      loadSystemFonts: options.loadSystemFonts ?? true,
      ...(options.fontFiles ? { fontFiles: options.fontFiles } : {}),
      ...(options.fontDirs ? { fontDirs: options.fontDirs } : {}),
      sansSerifFamily: 'DejaVu Sans',
    },
  }).render();
  return { svg, png: new Uint8Array(image.asPng()), width: image.width, height: image.height };
}
