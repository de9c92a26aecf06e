/**
 * The fidelity comparison of Fu et al., "On the Effectiveness of Parameter-Efficient Fine-Tuning"
 * (§5, Table 1: SAM against the random, magnitude and projection-based masks at the same density,
 * over seeds): Random, MagPruning, DiffPruning, ChildTuning-D, FishMask and SAM at each density,
 * on a bench task from the bench's bundled pretrained encoder, through the bench's own runner
 * (the trainer runs each method's calibrate on its first batches). Prints a markdown table
 * (mean ± std over seeds) on stderr and one JSON object on stdout.
 *
 *   pnpm --filter @peftjs/sparse-mask exec tsx --conditions=@peftjs/source scripts/fidelity.ts -- \
 *        [--task sotu-era] [--densities 0.005,0.01,0.05] [--seeds 3] [--steps 300] [--batch-size 16] \
 *        [--train 2000] [--test 400] [--methods random-mask,magnitude-mask,diff-pruning,child-tuning,fish-mask,sam]
 *
 * Imports the bench's runner by path (a script, not part of the package's build), so the package
 * does not depend on @peftjs/bench.
 */
import { parseArgs } from 'node:util';
import { initBackend, type MethodConfig } from '@peftjs/core';
import { seedStatistic } from '../../bench/src/report/summary';
import { hfBertBackbone } from '../../bench/src/runner/backbone';
import { bundledBackboneDirectory } from '../../bench/src/runner/bundled-backbone';
import { compareMethods } from '../../bench/src/runner/compare-methods';
import type { MethodRunSpec } from '../../bench/src/runner/method-spec';
import { findTask, subsetTask } from '../../bench/src/runner/task-catalog';
import { childTuning, diffPruning, fishMask, magnitudeMask, randomMask, sam } from '../src/index';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    task: { type: 'string', default: 'sotu-era' },
    densities: { type: 'string', default: '0.005,0.01,0.05' },
    seeds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '300' },
    'batch-size': { type: 'string', default: '16' },
    train: { type: 'string', default: '2000' },
    test: { type: 'string', default: '400' },
    methods: { type: 'string', default: 'random-mask,magnitude-mask,diff-pruning,child-tuning,fish-mask,sam' },
    'learning-rate': { type: 'string', default: '3e-3' },
  },
});

const makers: Record<string, (density: number) => MethodConfig> = {
  'random-mask': (density) => randomMask({ density }),
  'magnitude-mask': (density) => magnitudeMask({ density }),
  // λ scaled for a small model; the projection runs after the last step (Guo et al. §3.3).
  'diff-pruning': (density) => diffPruning({ density, l0Weight: 1e-6 }),
  'child-tuning': (density) => childTuning({ mode: 'D', density, maxExamples: 64 }),
  'fish-mask': (density) => fishMask({ density, maxExamples: 64 }),
  sam: (density) => sam({ density }),
};

const info = await initBackend();
const task = subsetTask(findTask(values.task!).build(), { train: Number(values.train), validation: 200, test: Number(values.test) });
const densities = values.densities!.split(',').map(Number);
const names = values.methods!.split(',');
const runs: MethodRunSpec[] = densities.flatMap((density) =>
  names.map((name) => ({ name: `${name} p=${density}`, configs: [makers[name]!(density)], learningRate: Number(values['learning-rate']) })),
);

const { results } = await compareMethods({
  task,
  methods: runs,
  seeds: Number(values.seeds),
  steps: Number(values.steps),
  batchSize: Number(values['batch-size']),
  backbone: hfBertBackbone(bundledBackboneDirectory(), { maxLength: 64 }),
  onProgress: (event) => {
    if (event.type === 'run-end') console.error(`${event.run.method} seed ${event.run.seed}: ${(100 * event.run.score[task.metric]!).toFixed(1)}`);
  },
});

const rows = ['full', ...runs.map((run) => run.name)].map((name) => {
  const own = results.runs.filter((r) => r.method === name);
  const scores = own.map((r) => r.score[task.metric]!);
  const { mean, std } = seedStatistic(scores);
  return { method: name, mean, std, scores };
});
console.error(`\n${task.name} (${task.metric}), backend ${info.backend}, ${values.steps} steps × batch ${values['batch-size']}, ${values.seeds} seeds\n`);
console.error('| method | score |\n|---|---|');
for (const row of rows) console.error(`| ${row.method} | ${(100 * row.mean).toFixed(1)} ± ${row.std === null ? '–' : (100 * row.std).toFixed(1)} |`);
console.log(JSON.stringify({ backend: info.backend, task: task.name, metric: task.metric, steps: Number(values.steps), seeds: Number(values.seeds), rows }));
