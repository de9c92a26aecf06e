/**
 * What soft prompts cost: inference tokens/s and the real peak memory of one training step of each
 * method, as ratios to the base model (inference: the same model with the method disabled, alternating, best of
 * two runs each) and to full fine-tuning (training) measured in the
 * same process, at n = 10, 20, 50 virtual tokens, on the tiny encoder of core's bench:step
 * (2 layers, hidden 128, 4 heads, FFN 512, vocabulary 1000; batch 16 × 64 tokens). Tokens counted are
 * the input's real tokens (the virtual ones are the cost, not the output).
 *
 *   pnpm --filter @peftjs/prompts bench:prompts -- [--backend cpu|wasm] [--batch 16] [--seq 64] [--steps 5]
 */
import { parseArgs } from 'node:util';
import { BertModel, countTokens, fullFineTuning, initBackend, measurePeakMemoryAsync, measureThroughput, peft, setGlobalSeed, tf, train, type BackendPreference, type Batch, type MethodConfig, type PeftModel, type TrainingTarget } from '@peftjs/core';
import { adaptivePrefixTuning, ipt, pTuning, pTuningV2, prefixTuning, promptTuning } from '../src/index';

const args = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({ args, options: { backend: { type: 'string', default: 'cpu' }, batch: { type: 'string', default: '16' }, seq: { type: 'string', default: '64' }, steps: { type: 'string', default: '5' } } });
const batchSize = Number(values.batch);
const seq = Number(values.seq);
const steps = Number(values.steps);
const MODEL = { vocabSize: 1000, hiddenSize: 128, numLayers: 2, numHeads: 4, intermediateSize: 512, maxPositions: seq + 64 };
const HEAD = { modulesToSave: { roles: ['head'] } };

const RUNS: Array<{ name: string; configs?: (n: number) => MethodConfig[] }> = [
  { name: 'full' },
  { name: 'prompt-tuning', configs: (n) => [promptTuning({ numVirtualTokens: n, ...HEAD })] },
  { name: 'p-tuning (mlp)', configs: (n) => [pTuning({ numVirtualTokens: n, ...HEAD })] },
  { name: 'prefix-tuning', configs: (n) => [prefixTuning({ numVirtualTokens: n, ...HEAD })] },
  { name: 'prefix-tuning (projection)', configs: (n) => [prefixTuning({ numVirtualTokens: n, prefixProjection: true, ...HEAD })] },
  { name: 'p-tuning-v2', configs: (n) => [pTuningV2({ numVirtualTokens: n })] },
  { name: 'adaptive-prefix-tuning', configs: (n) => [adaptivePrefixTuning({ numVirtualTokens: n, ...HEAD })] },
  { name: 'ipt (r = 8)', configs: (n) => [ipt({ numVirtualTokens: n, ...HEAD })] },
];

const info = await initBackend({ prefer: values.backend as BackendPreference });
const batch: Batch = { inputIds: tf.randomUniform([batchSize, seq], 1, MODEL.vocabSize, 'int32', 7), attentionMask: tf.ones([batchSize, seq], 'int32'), labels: tf.randomUniform([batchSize], 0, 2, 'int32', 8) };
const tokens = countTokens(batch);

function inferTokensPerSecond(model: { forward(batch: Batch): { logits: tf.Tensor } }): number {
  return measureThroughput(() => tf.tidy(() => void model.forward(batch).logits.dataSync()), { steps, tokensPerStep: tokens, warmupSteps: 1 }).tokensPerSecond;
}

console.log(`backend ${info.backend}; encoder 2 × d128 (FFN 512, vocabulary 1000); batch ${batchSize} × ${seq} tokens; ${steps} timed inference steps. Timings share 2 CPU cores with other jobs.\n`);
console.log('| method | n | trainable | infer tok/s | × base | peak train step MB | × full |\n|---|---:|---:|---:|---:|---:|---:|');
let fullPeak = 0;
for (const run of RUNS) {
  for (const n of run.configs ? [10, 20, 50] : [0]) {
    setGlobalSeed(3);
    const model = new BertModel({ ...MODEL, task: 'sequence-classification', numLabels: 2, hiddenDropout: 0, attentionDropout: 0 });
    model.eval();
    const target: TrainingTarget = run.configs ? peft(model, run.configs(n)) : fullFineTuning(model);
    const trainable = target.trainableParameters().reduce((sum, parameter) => sum + parameter.size, 0);
    // Paired: the same model with the method disabled (the base) and enabled, alternating, best of 2 each.
    let speed = inferTokensPerSecond(model);
    let baseTokensPerSecond = speed;
    if (run.configs) {
      const tuned = target as unknown as PeftModel<BertModel>;
      const runs = [0, 1].map(() => {
        tuned.disable();
        const base = inferTokensPerSecond(model);
        tuned.enable();
        return { base, tuned: inferTokensPerSecond(tuned) };
      });
      baseTokensPerSecond = Math.max(...runs.map((r) => r.base));
      speed = Math.max(...runs.map((r) => r.tuned));
    }
    const { peakBytes } = await measurePeakMemoryAsync(() => train(target, { data: [batch], maxSteps: 1, learningRate: 1e-3 }));
    if (!run.configs) fullPeak = peakBytes;
    console.log(`| ${run.name} | ${n || '—'} | ${trainable.toLocaleString('en-US')} | ${speed.toFixed(0)} | ${(speed / baseTokensPerSecond).toFixed(2)} | ${(peakBytes / 1e6).toFixed(1)} | ${(peakBytes / fullPeak).toFixed(2)} |`);
    model.dispose();
  }
}
tf.dispose(Object.values(batch));
