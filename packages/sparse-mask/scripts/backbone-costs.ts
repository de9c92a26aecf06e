/**
 * Costs of the sparse-mask methods at one density on a Hugging Face BERT directory (default: the
 * bench's bundled backbone): trainable entries, Adam state bytes, adapter file bytes and the peak
 * memory of one training step (forward, backward, AdamW, hooks), each also as a multiple of full
 * fine-tuning. Adds the masked-whole-tensor representation (core's fromSelection with the same
 * indices) for comparison. Memory is measured with core's memory meter (bytes of live tensors, not
 * process RSS), one step after a warm-up step, on a fixed synthetic batch.
 *
 *   pnpm --filter @peftjs/sparse-mask exec tsx --conditions=@peftjs/source scripts/backbone-costs.ts \
 *        [--backbone <dir>] [--density 0.005] [--batch 16] [--length 64]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AdamW,
  fromSelection,
  fullFineTuning,
  initBackend,
  loadHfBert,
  measurePeakMemory,
  peft,
  safetensorsFileBytes,
  tf,
  type AppliedMethod,
  type Batch,
  type MethodConfig,
  type Parameter,
} from '@peftjs/core';
import { childTuning, diffPruning, fishMask, ltSft, mixout, randomMask, sam, type SparseAppliedMethod } from '../src/index';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    backbone: { type: 'string', default: join(here, '../../bench/backbone') },
    density: { type: 'string', default: '0.005' },
    batch: { type: 'string', default: '16' },
    length: { type: 'string', default: '64' },
  },
});
const density = Number(values.density);
const info = await initBackend();

async function loadModel() {
  const { model } = await loadHfBert(values.backbone!, { task: 'sequence-classification', numLabels: 2, reinitializeMismatchedHeads: true });
  return model;
}

const probe = await loadModel();
const vocab = probe.config.vocabSize;
probe.dispose();
const batchSize = Number(values.batch);
const length = Number(values.length);
const batch: Batch = {
  inputIds: tf.tidy(() => tf.randomUniform([batchSize, length], 1, vocab, 'int32', 1)),
  attentionMask: tf.ones([batchSize, length], 'int32'),
  labels: tf.tidy(() => tf.randomUniform([batchSize], 0, 2, 'int32', 2)),
};

interface Row {
  method: string;
  trainable: number;
  optimizerStateBytes: number;
  adapterBytes: number;
  peakStepBytes: number;
  /** Live bytes at the step's start (weights, optimizer state, the method's own tensors, the batch) plus the step's peak. */
  peakTrainingBytes: number;
}

/** One training step as the trainer runs it (without clipping), measured after a warm-up step. */
function measureStep(model: Awaited<ReturnType<typeof loadModel>>, parameters: Parameter[], methods: readonly AppliedMethod[]): { optimizerStateBytes: number; peakStepBytes: number; peakTrainingBytes: number } {
  const optimizer = new AdamW(parameters, { learningRate: 1e-4, weightDecay: 0 });
  model.train();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      let loss = model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask);
      for (const method of methods) if (method.regularization) loss = tf.add(loss, method.regularization());
      return loss as tf.Scalar;
    }, parameters.map((p) => p.variable));
    let gradients = new Map(parameters.map((p) => [p, grads[p.variable.name]!] as const));
    for (const method of methods) {
      if (!method.transformGradients) continue;
      const next = method.transformGradients(gradients);
      for (const [p, g] of gradients) if (next.get(p) !== g) g.dispose();
      gradients = next;
    }
    optimizer.step(gradients);
    for (const method of methods) method.afterStep?.({ step: 1, totalSteps: 1000, gradients });
    tf.dispose([value, ...gradients.values()]);
  };
  step();
  const reading = measurePeakMemory(step);
  const peakStepBytes = reading.peakBytes;
  const peakTrainingBytes = reading.baselineBytes + reading.peakBytes;
  const optimizerStateBytes = Object.values(optimizer.state().tensors).reduce((n, t) => n + t.size * 4, 0);
  optimizer.dispose();
  return { optimizerStateBytes, peakStepBytes, peakTrainingBytes };
}

const rows: Row[] = [];
{
  const model = await loadModel();
  const target = fullFineTuning(model);
  const parameters = target.trainableParameters();
  const measured = measureStep(model, parameters, []);
  const tensors = Object.fromEntries(model.namedParameters().map(([path, p]) => [path, p.variable]));
  rows.push({ method: 'full', trainable: parameters.reduce((n, p) => n + p.size, 0), adapterBytes: safetensorsFileBytes(tensors), ...measured });
  model.dispose();
}

const runs: Array<[string, MethodConfig]> = [
  ['random-mask', randomMask({ density })],
  ['sam', sam({ density })],
  ['fish-mask', fishMask({ density })],
  ['child-tuning D', childTuning({ mode: 'D', density })],
  ['lt-sft', ltSft({ density })],
  ['diff-pruning (dense phase)', diffPruning({ density, projectAtEnd: false })],
  ['child-tuning F', childTuning({ mode: 'F', density: 0.3 })],
  ['mixout', mixout({ probability: 0.7 })],
];
let maskedIndices: Array<{ path: string; parameter: Parameter; indices: Int32Array }> = [];
for (const [name, config] of runs) {
  const model = await loadModel();
  const tuned = peft(model, [config]);
  const parameters = tuned.trainableParameters();
  const measured = measureStep(model, parameters, tuned.appliedMethods());
  rows.push({ method: name, trainable: parameters.reduce((n, p) => n + p.size, 0), adapterBytes: tuned.report().adapterBytes, ...measured });
  if (name === 'random-mask') {
    const delta = (tuned.appliedMethods()[0] as unknown as SparseAppliedMethod).delta;
    maskedIndices = delta.targets.map((t, i) => ({ path: t.path, parameter: t.parameter, indices: delta.localIndices(i) })).filter((s) => s.indices.length > 0);
  }
  model.dispose();
}
{
  // The same random entries as masked whole tensors (core's fromSelection / SelectedTensor).
  const model = await loadModel();
  for (const parameter of model.parameters()) parameter.trainable = false; // as peft() leaves the base model
  const byPath = new Map(model.namedParameters());
  const applied = fromSelection({
    name: 'masked',
    model,
    subset: maskedIndices.map(({ path, indices }) => ({ path, parameter: byPath.get(path)!, indices })),
    trainHead: true,
    mergeable: true,
  });
  const parameters = applied.parameters();
  const measured = measureStep(model, parameters, [applied]);
  const summary = applied.summary();
  rows.push({ method: 'random-mask as masked whole tensors (fromSelection)', trainable: summary.selectedEntries + summary.headEntries, adapterBytes: safetensorsFileBytes(applied.state()), ...measured });
  model.dispose();
}

const full = rows[0]!;
const x = (value: number, of: number) => `${(value / of).toFixed(3)}×`;
console.error(`\nbackbone ${values.backbone}, backend ${info.backend}, density ${density}, batch ${batchSize}×${length}\n`);
console.error('| method | trainable entries | Adam state bytes (×full) | adapter file bytes (×full) | peak step bytes (×full) | peak training bytes (×full) |\n|---|---|---|---|---|---|');
for (const row of rows) {
  console.error(`| ${row.method} | ${row.trainable} | ${row.optimizerStateBytes} (${x(row.optimizerStateBytes, full.optimizerStateBytes)}) | ${row.adapterBytes} (${x(row.adapterBytes, full.adapterBytes)}) | ${row.peakStepBytes} (${x(row.peakStepBytes, full.peakStepBytes)}) | ${row.peakTrainingBytes} (${x(row.peakTrainingBytes, full.peakTrainingBytes)}) |`);
}
console.log(JSON.stringify({ backbone: values.backbone, backend: info.backend, density, batch: [batchSize, length], rows }));
tf.dispose([batch.inputIds, batch.attentionMask!, batch.labels!]);
