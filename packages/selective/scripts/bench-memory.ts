/**
 * Real peak memory of one training step (forward + backward, core's MemoryMeter: each buffer
 * counted once, resident baseline subtracted) for full fine-tuning, LoRA, token-position selective
 * fine-tuning and SFT + LoRA (Simoulin et al., "Memory-Efficient Selective Fine-Tuning", Figure 2
 * and Table 3) on a reference BERT encoder, as ratios to full fine-tuning at the same batch size.
 *
 *   pnpm --filter @peftjs/selective bench:memory -- [--json] [--backend cpu|wasm] [--seq 64] [--k 16]
 *                                                  [--batches 16,32,64,128,256] [--hidden 64] [--layers 2]
 *
 * Prints one JSON object {backend, seq, k, rows: [{method, batch, peakBytes, ratioToFull}]} with --json,
 * a table otherwise. A batch size that does not fit (allocation failure) ends the sweep there.
 * @peftjs/lora is a devDependency used by this script only: the package itself depends on core alone.
 */
import { BertModel, initBackend, measurePeakMemory, peft, setGlobalSeed, tf, type Batch, type MethodConfig, type Parameter, type TaskModel } from '@peftjs/core';
import { lora } from '@peftjs/lora';
import { tokenSft } from '../src/index';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

const json = process.argv.includes('--json');
const backendName = option('backend', 'cpu');
const seq = Number(option('seq', '64'));
const k = Number(option('k', '16'));
const hidden = Number(option('hidden', '64'));
const layers = Number(option('layers', '2'));
const batches = option('batches', '16,32,64,128,256').split(',').map(Number);

function encoder(): BertModel {
  setGlobalSeed(2);
  return new BertModel({ vocabSize: 1000, hiddenSize: hidden, numLayers: layers, numHeads: 4, maxPositions: seq, hiddenDropout: 0, attentionDropout: 0, numLabels: 2 });
}

function randomBatch(size: number): Batch {
  return {
    inputIds: tf.randomUniform([size, seq], 1, 1000, 'int32', 1),
    attentionMask: tf.ones([size, seq], 'int32'),
    labels: tf.randomUniform([size], 0, 2, 'int32', 2),
  };
}

function stepPeak(model: TaskModel, parameters: Parameter[], batch: Batch): number {
  const variables = parameters.map((parameter) => parameter.variable);
  return measurePeakMemory(() => {
    const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask), variables);
    tf.dispose([value, ...Object.values(grads)]);
  }).peakBytes;
}

/** Each method trains what it would in a real run; full fine-tuning trains every parameter. */
const methods: Array<{ name: string; configs: () => MethodConfig[] | undefined }> = [
  { name: 'full', configs: () => undefined },
  { name: 'lora', configs: () => [lora({ r: 8, modulesToSave: { roles: ['head'] } })] },
  { name: 'sft', configs: () => [tokenSft({ k, trainEmbeddings: true })] },
  { name: 'sft+lora', configs: () => [tokenSft({ k, trainParameters: 'none' }), lora({ r: 8, modulesToSave: { roles: ['head'] } })] },
];

const backend = await initBackend({ prefer: backendName as 'cpu' | 'wasm' });
const rows: Array<{ method: string; batch: number; peakBytes: number; ratioToFull: number }> = [];
sweep: for (const size of batches) {
  const batch = randomBatch(size);
  let fullPeak = Number.NaN;
  for (const method of methods) {
    const model = encoder().train();
    try {
      const configs = method.configs();
      const target = configs ? peft(model, configs) : model;
      const parameters = configs ? (target as ReturnType<typeof peft>).trainableParameters() : model.parameters();
      const peakBytes = stepPeak(target as TaskModel, parameters, batch);
      if (method.name === 'full') fullPeak = peakBytes;
      rows.push({ method: method.name, batch: size, peakBytes, ratioToFull: peakBytes / fullPeak });
    } catch (error) {
      if (!json) console.error(`batch ${size}, ${method.name}: ${(error as Error).message}; stopping the sweep`);
      model.dispose();
      tf.dispose(Object.values(batch));
      break sweep;
    }
    model.dispose();
  }
  tf.dispose(Object.values(batch));
}

if (json) {
  console.log(JSON.stringify({ backend: backend.backend, seq, k, rows }));
} else {
  console.log(`backend ${backend.backend}, seq ${seq}, k ${k}, encoder d=${hidden} × ${layers} layers`);
  console.log('method     batch   peak MB   ×full');
  for (const row of rows) {
    console.log(`${row.method.padEnd(10)} ${String(row.batch).padStart(5)} ${(row.peakBytes / 1e6).toFixed(1).padStart(9)}   ${row.ratioToFull.toFixed(2)}`);
  }
}
