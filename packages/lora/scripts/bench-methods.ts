/**
 * Trainable parameters, resident model bytes and the real peak memory of one training step of each
 * method of this package, as ratios to full fine-tuning measured in the same process, on the tiny
 * encoder of core's bench:step (2 layers, hidden 128, 4 heads, FFN 512, vocabulary 1000; batch 16 × 64 tokens).
 *
 * A step is what the trainer runs (forward, backward, the methods' gradient hooks and the optimizer
 * update); its peak is core's MemoryMeter over the first step, so the optimizer state the step
 * creates counts, while the model's weights (resident before the step) do not: they are reported
 * apart as `modelBytes` (that is where a quantized base saves).
 *
 *   pnpm --filter @peftjs/lora bench:methods -- [--json] [--backend cpu|wasm] [--batch 16] [--seq 64]
 */
import { parseArgs } from 'node:util';
import { BertModel, fullFineTuning, initBackend, measurePeakMemoryAsync, peft, setGlobalSeed, tf, train, type BackendPreference, type Batch, type MethodConfig, type OptimizerFactory, type TrainingTarget } from '@peftjs/core';
import { QuantizedLinear, adalora, galore, glora, intrinsicSaid, krona, kronaRes, lora, quantizeLinears } from '../src/index';

const args = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    json: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'cpu' },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '64' },
  },
});
const batchSize = Number(values.batch);
const seq = Number(values.seq);
const MODEL = { vocabSize: 1000, hiddenSize: 128, numLayers: 2, numHeads: 4, intermediateSize: 512, maxPositions: seq };
const HEAD = { modulesToSave: { roles: ['head'] } };
const ALL_LINEAR = { roles: ['all-linear'] };

/** A row of the table: how to build the run from a fresh model. */
interface MethodRun {
  name: string;
  /** Changes the base model first (e.g. quantizes it). */
  prepare?: (model: BertModel) => void;
  configs?: MethodConfig[];
  /** A different optimizer (GaLore) for full fine-tuning. */
  optimizer?: OptimizerFactory;
}

const RUNS: MethodRun[] = [
  { name: 'full' },
  { name: 'lora r8 (query, value)', configs: [lora({ r: 8, ...HEAD })] },
  { name: 'lora r8 (all linear)', configs: [lora({ r: 8, targets: ALL_LINEAR, ...HEAD })] },
  { name: 'dora r8 (query, value)', configs: [lora({ r: 8, useDora: true, ...HEAD })] },
  { name: 'krona (query, value)', configs: [krona()] },
  { name: 'krona-res (beside each FFN)', configs: [kronaRes()] },
  { name: 'adalora r12→8 (query, value)', configs: [adalora({ ...HEAD })] },
  { name: 'glora r4 (query, value)', configs: [glora({ r: 4 })] },
  { name: 'intrinsic-said d=1000 (all linear)', configs: [intrinsicSaid({ d: 1000, ...HEAD })] },
  { name: 'full + galore r=16 optimizer', optimizer: galore({ rank: 16 }) },
  { name: 'int8 base + lora r8 (all linear)', prepare: (model) => quantizeLinears(model, { format: 'int8' }), configs: [lora({ r: 8, targets: ALL_LINEAR, ...HEAD })] },
  { name: 'nf4 base + lora r8 (all linear)', prepare: (model) => quantizeLinears(model, { format: 'nf4' }), configs: [lora({ r: 8, targets: ALL_LINEAR, ...HEAD })] },
];

function residentModelBytes(model: BertModel): number {
  const seen = new Set<number>();
  let bytes = 0;
  const visit = (tensor: tf.Tensor) => {
    if (seen.has(tensor.id)) return;
    seen.add(tensor.id);
    bytes += tensor.size * (tensor.dtype === 'int32' || tensor.dtype === 'float32' ? 4 : 1);
  };
  for (const parameter of model.parameters()) visit(parameter.variable);
  for (const [, module] of model.namedModules()) if (module instanceof QuantizedLinear) [module.codes, module.scales].forEach(visit);
  return bytes;
}

const info = await initBackend({ prefer: values.backend as BackendPreference });
const random = tf.randomUniform([batchSize, seq], 1, MODEL.vocabSize, 'int32', 7);
const batch: Batch = { inputIds: random, attentionMask: tf.ones([batchSize, seq], 'int32'), labels: tf.randomUniform([batchSize], 0, 2, 'int32', 8) };

const rows: Array<{ method: string; trainable: number; trainableRatio: number; modelBytes: number; modelBytesRatio: number; peakStepBytes: number; peakRatio: number }> = [];
let full: { trainable: number; modelBytes: number; peak: number } | undefined;
for (const run of RUNS) {
  setGlobalSeed(3);
  const model = new BertModel({ ...MODEL, task: 'sequence-classification', numLabels: 2, hiddenDropout: 0, attentionDropout: 0 });
  run.prepare?.(model);
  const target: TrainingTarget = run.configs ? peft(model, run.configs) : fullFineTuning(model);
  const trainable = target.trainableParameters().reduce((sum, parameter) => sum + parameter.size, 0);
  const modelBytes = residentModelBytes(model);
  const { peakBytes } = await measurePeakMemoryAsync(() => train(target, { data: [batch], maxSteps: 1, learningRate: 1e-3, ...(run.optimizer ? { optimizer: run.optimizer } : {}) }));
  full ??= { trainable, modelBytes, peak: peakBytes };
  rows.push({
    method: run.name,
    trainable,
    trainableRatio: trainable / full.trainable,
    modelBytes,
    modelBytesRatio: modelBytes / full.modelBytes,
    peakStepBytes: peakBytes,
    peakRatio: peakBytes / full.peak,
  });
  model.dispose();
}
tf.dispose(Object.values(batch));

if (values.json) {
  console.log(JSON.stringify({ backend: info.backend, model: MODEL, batch: batchSize, seq, rows }));
} else {
  console.log(`backend ${info.backend}; encoder 2 × d128 (FFN 512, vocabulary 1000); batch ${batchSize} × ${seq} tokens\n`);
  console.log('| method | trainable | × full | model MB | × full | peak step MB | × full |\n|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.method} | ${row.trainable.toLocaleString('en-US')} | ${row.trainableRatio.toFixed(4)} | ${(row.modelBytes / 1e6).toFixed(2)} | ${row.modelBytesRatio.toFixed(2)} | ${(row.peakStepBytes / 1e6).toFixed(1)} | ${row.peakRatio.toFixed(2)} |`,
    );
  }
}
