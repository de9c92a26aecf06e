/**
 * Does pretraining help? Fine-tunes each method from the pretrained backbone and from a random init
 * of the same architecture with the same tokenizer, on each task, with the same steps and seeds,
 * and prints one JSON object {backbone, tasks: [{task, metric, rows: [{method, init, mean, std, scores}]}]}.
 *
 *   pnpm --filter @peftjs/bench compare-backbone -- --backbone <dir> [--tasks wordnet-category,sotu-era]
 *        [--methods full,lora,bitfit] [--seeds 2] [--steps 300] [--batch-size 32] [--train 3000] [--test 600]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '@peftjs/core';
import { seedStatistic } from '../src/report/summary';
import { hfBertBackbone, scratchBackbone } from '../src/runner/backbone';
import { compareMethods } from '../src/runner/compare-methods';
import { loadInstalledMethodFamilies } from '../src/runner/method-discovery';
import { findTask, subsetTask } from '../src/runner/task-catalog';
import { BenchTokenizer } from '../src/tokenizer/bench-tokenizer';

const args = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    backbone: { type: 'string' },
    tasks: { type: 'string', default: 'wordnet-category,sotu-era' },
    methods: { type: 'string', default: 'full,lora,bitfit' },
    seeds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '300' },
    'batch-size': { type: 'string', default: '32' },
    train: { type: 'string', default: '3000' },
    test: { type: 'string', default: '600' },
  },
});
if (!values.backbone) throw new Error('--backbone <dir> is required: a folder written by `pretrain`.');
const directory = values.backbone;

await initBackend();
await loadInstalledMethodFamilies();
const hfConfig = JSON.parse(await readFile(join(directory, 'config.json'), 'utf8')) as Record<string, number>;
const tokenizer = await BenchTokenizer.fromFile(join(directory, 'tokenizer.json'));
const pretrained = hfBertBackbone(directory, { maxLength: 64 });
const random = scratchBackbone({
  tokenizer,
  hiddenSize: hfConfig.hidden_size!,
  numLayers: hfConfig.num_hidden_layers!,
  numHeads: hfConfig.num_attention_heads!,
  intermediateSize: hfConfig.intermediate_size!,
  maxLength: 64,
});

const methods = values.methods!.split(',');
const report = [];
for (const name of values.tasks!.split(',')) {
  const task = subsetTask(findTask(name).build(), { train: Number(values.train), validation: 200, test: Number(values.test) });
  const rows = [];
  for (const [init, backbone] of [['pretrained', pretrained], ['random', random]] as const) {
    const { results } = await compareMethods({ task, methods, seeds: Number(values.seeds), steps: Number(values.steps), batchSize: Number(values['batch-size']), backbone });
    for (const method of methods) {
      const scores = results.runs.filter((run) => run.method === method).map((run) => run.score[results.task.metric]!);
      const { mean, std } = seedStatistic(scores);
      rows.push({ method, init, mean, std, scores });
    }
    console.error(`${name} ${init}: ${rows.filter((row) => row.init === init).map((row) => `${row.method} ${(100 * row.mean).toFixed(1)}`).join(', ')}`);
  }
  report.push({ task: name, metric: task.metric ?? 'accuracy', rows });
}
console.log(JSON.stringify({ backbone: directory, tasks: report }));
