/**
 * Accuracy of the selective methods against full fine-tuning, from one backbone on one task: full
 * fine-tuning, token-position selective fine-tuning with k = 4, 16, 32, 64 (every weight but the
 * embeddings trained through k positions, at full fine-tuning's learning rate), BitFit and
 * LayerNorm tuning. Prints a markdown table on stderr and one JSON object
 * {backbone, task, metric, steps, batchSize, seeds, rows: [{method, mean, std, scores, trainablePercent}]} on stdout.
 *
 *   pnpm --filter @peftjs/bench selective-accuracy -- [--backbone <dir>] [--task sotu-era]
 *        [--ks 4,16,32,64] [--seeds 2] [--steps 300] [--batch-size 16] [--train 4000] [--test 600]
 */
import { parseArgs } from 'node:util';
import { initBackend, type MethodConfig } from '@peftjs/core';
import { bitfit, lnTuning, tokenSft } from '@peftjs/selective';
import { seedStatistic } from '../src/report/summary';
import { hfBertBackbone } from '../src/runner/backbone';
import { bundledBackboneDirectory } from '../src/runner/bundled-backbone';
import { compareMethods } from '../src/runner/compare-methods';
import { DEFAULT_LEARNING_RATES, type MethodRunSpec } from '../src/runner/method-spec';
import { findTask, subsetTask } from '../src/runner/task-catalog';

const args = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    backbone: { type: 'string' },
    task: { type: 'string', default: 'sotu-era' },
    ks: { type: 'string', default: '4,16,32,64' },
    seeds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '300' },
    'batch-size': { type: 'string', default: '16' },
    train: { type: 'string', default: '4000' },
    test: { type: 'string', default: '600' },
    'max-length': { type: 'string', default: '64' },
  },
});
const directory = values.backbone ?? bundledBackboneDirectory();

const info = await initBackend();
const backbone = hfBertBackbone(directory, { maxLength: Number(values['max-length']) });
const task = subsetTask(findTask(values.task!).build(), { train: Number(values.train), validation: 200, test: Number(values.test) });

const run = (name: string, configs: MethodConfig[], learningRate?: number): MethodRunSpec => ({ name, configs, ...(learningRate !== undefined ? { learningRate } : {}) });
const runs: MethodRunSpec[] = [
  run('full', []),
  ...values.ks!.split(',').map((k) => run(`token-sft k=${k}`, [tokenSft({ k: Number(k) })], DEFAULT_LEARNING_RATES.full)),
  run('bitfit', [bitfit()]),
  run('ln-tuning', [lnTuning()]),
];

const { results } = await compareMethods({
  task,
  methods: runs,
  seeds: Number(values.seeds),
  steps: Number(values.steps),
  batchSize: Number(values['batch-size']),
  backbone,
  onProgress: (event) => {
    if (event.type === 'run-end') console.error(`${event.run.method} seed ${event.run.seed}: ${(100 * event.run.score[task.metric]!).toFixed(1)}`);
  },
});

const rows = runs.map(({ name }) => {
  const own = results.runs.filter((r) => r.method === name);
  const scores = own.map((r) => r.score[task.metric]!);
  const { mean, std } = seedStatistic(scores);
  return { method: name, mean, std, scores, trainablePercent: (100 * own[0]!.trainableParameters) / own[0]!.totalParameters };
});
console.error(`\n${task.name} (${task.metric}), backend ${info.backend}, ${values.steps} steps x batch ${values['batch-size']}, ${values.seeds} seeds\n`);
console.error('| method | score | trainable % |\n|---|---|---|');
for (const row of rows) console.error(`| ${row.method} | ${(100 * row.mean).toFixed(1)} ± ${row.std === null ? "–" : (100 * row.std).toFixed(1)} | ${row.trainablePercent.toFixed(3)} |`);
console.log(
  JSON.stringify({ backbone: directory, backend: info.backend, task: task.name, metric: task.metric, steps: Number(values.steps), batchSize: Number(values['batch-size']), seeds: Number(values.seeds), rows }),
);
