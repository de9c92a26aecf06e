/**
 * Real peak memory of one training step (forward + backward, core's MemoryMeter: each buffer
 * counted once, resident baseline subtracted) for full fine-tuning and each method of this package,
 * on the bench's default-preset encoder (a BERT of hidden 64, 2 layers, 4 heads, vocab 2000,
 * sequences of 64) at the bench's memory batch sizes (8, 16, 32), as ratios to full fine-tuning
 * in the same run; plus trainable share and step times (wall clock, distorted on a shared machine).
 *
 *   pnpm --filter @peftjs/adapters bench:memory -- [--json] [--backend cpu|wasm] [--seq 64]
 *                                                 [--batches 8,16,32] [--hidden 64] [--layers 2] [--methods lst,houlsby]
 */
import { BertModel, initBackend, measurePeakMemory, peft, setGlobalSeed, tf, type Batch, type MethodConfig, type Parameter, type TaskModel } from '@peftjs/core';
import { adamix, compacter, houlsby, ia3, lst, parallelAdapter, pfeiffer, scaledParallelAdapter, sparseAdapter } from '../src/index';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

const json = process.argv.includes('--json');
const backendName = option('backend', 'cpu');
const seq = Number(option('seq', '64'));
const hidden = Number(option('hidden', '64'));
const layers = Number(option('layers', '2'));
const batches = option('batches', '8,16,32').split(',').map(Number);
const head = { modulesToSave: { roles: ['head'] } };
/** Repeats of each timed step (the median is kept); 0 skips timing. */
const repeats = Number(option('repeats', '3'));

function encoder(): BertModel {
  setGlobalSeed(2);
  return new BertModel({ vocabSize: 2000, hiddenSize: hidden, numLayers: layers, numHeads: 4, maxPositions: seq, hiddenDropout: 0, attentionDropout: 0, numLabels: 2 });
}

function randomBatch(size: number): Batch {
  return {
    inputIds: tf.randomUniform([size, seq], 1, 2000, 'int32', 1),
    attentionMask: tf.ones([size, seq], 'int32'),
    labels: tf.randomUniform([size], 0, 2, 'int32', 2),
  };
}

function step(model: TaskModel, parameters: Parameter[], batch: Batch): void {
  const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask), parameters.map((parameter) => parameter.variable));
  tf.dispose([value, ...Object.values(grads)]);
}

function medianMs(fn: () => void): number {
  if (repeats === 0) return Number.NaN;
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(repeats / 2)]!;
}

/** Each method trains what the bench would (the task head too); full fine-tuning trains every parameter. */
const all: Array<{ name: string; configs: () => MethodConfig[] | undefined }> = [
  { name: 'full', configs: () => undefined },
  { name: 'houlsby', configs: () => [houlsby(head)] },
  { name: 'pfeiffer', configs: () => [pfeiffer(head)] },
  { name: 'parallel-adapter', configs: () => [parallelAdapter(head)] },
  { name: 'scaled-parallel-adapter', configs: () => [scaledParallelAdapter(head)] },
  { name: 'adamix', configs: () => [adamix(head)] },
  { name: 'compacter', configs: () => [compacter(head)] },
  { name: 'ia3', configs: () => [ia3(head)] },
  { name: 'lst', configs: () => [lst(head)] },
  { name: 'sparse-adapter', configs: () => [sparseAdapter({ ...head, criterion: 'magnitude' })] },
];
const wanted = option('methods', '');
const methods = wanted ? all.filter((method) => method.name === 'full' || wanted.split(',').includes(method.name)) : all;

function printRow(r: Row): void {
  console.log(`${r.method.padEnd(24)} ${String(r.batch).padStart(5)}  ${r.trainablePercent.toFixed(2).padStart(9)}  ${(r.peakBytes / 2 ** 20).toFixed(2).padStart(7)}  ${r.ratioToFull.toFixed(3).padStart(6)}  ${r.trainRatio.toFixed(2).padStart(17)}  ${r.inferRatio.toFixed(2).padStart(17)}`);
}

const backend = await initBackend({ prefer: backendName as 'cpu' | 'wasm' });
if (!json) {
  console.log(`backend ${backend.name}, seq ${seq}, hidden ${hidden}, layers ${layers} (times are wall clock on a shared machine)`);
  console.log('method                   batch  trainable%  peak MB   ×full  train tok/s ×full  infer tok/s ×full');
}
type Row = { method: string; batch: number; trainablePercent: number; peakBytes: number; ratioToFull: number; trainMs: number; trainRatio: number; inferMs: number; inferRatio: number };
const rows: Row[] = [];
for (const size of batches) {
  const batch = randomBatch(size);
  let full: Row | undefined;
  for (const method of methods) {
    const model = encoder().train();
    const configs = method.configs();
    const target = configs ? peft(model, configs) : model;
    const parameters = configs ? (target as ReturnType<typeof peft>).trainableParameters() : model.parameters();
    const total = model.parameters().reduce((n, p) => n + p.size, 0);
    const trainable = parameters.reduce((n, p) => n + p.size, 0);
    const peakBytes = measurePeakMemory(() => step(target as TaskModel, parameters, batch)).peakBytes;
    const trainMs = medianMs(() => step(target as TaskModel, parameters, batch));
    model.eval();
    const inferMs = medianMs(() => tf.tidy(() => void (target as TaskModel).forward(batch).logits.dataSync()));
    const row: Row = { method: method.name, batch: size, trainablePercent: (100 * trainable) / total, peakBytes, ratioToFull: 0, trainMs, trainRatio: 0, inferMs, inferRatio: 0 };
    if (method.name === 'full') full = row;
    row.ratioToFull = peakBytes / full!.peakBytes;
    // tok/s ×full = full's time / this method's time.
    row.trainRatio = full!.trainMs / trainMs;
    row.inferRatio = full!.inferMs / inferMs;
    rows.push(row);
    if (!json) printRow(row);
    model.dispose();
  }
  tf.dispose(Object.values(batch));
}

if (json) console.log(JSON.stringify({ backend: backend.name, seq, hidden, layers, rows }));
