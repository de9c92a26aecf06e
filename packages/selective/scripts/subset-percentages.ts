/**
 * Prints the entries and percentages each BitFit / BitFit+ subset trains on two encoders: the
 * reference BERT (hidden 64, 2 layers) and a BERT-base-shaped one (counting only; nothing trains);
 * then, on the reference BERT, core's report after 3 AdamW steps: trainable (whole tensors the
 * optimizer holds) against changed (entries that differ from the base), head included.
 * Run: pnpm exec tsx packages/selective/scripts/subset-percentages.ts
 */
import { createBert, headParameters, peft, resolveTargets, setGlobalSeed, tf, train, type BertConfigInput, type MethodConfig, type Module } from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { BITFIT_SUBSETS, bitfit, countEntries, lnTuning, resolveBitFitSubset } from '../src/index';

const ENCODERS: Record<string, BertConfigInput> = {
  'reference BERT (hidden 64, 2 layers)': { hiddenSize: 64, numLayers: 2, numHeads: 4, vocabSize: 1000, maxPositions: 128 },
  'BERT-base shape (hidden 768, 12 layers)': { hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, vocabSize: 30522, maxPositions: 512 },
};

function gammaCount(model: Module<any, any>, roles: string[]): number {
  return resolveTargets(model, { roles, tensorKinds: ['gamma'] }, { kind: 'parameter' }).reduce((count, target) => count + target.parameter.size, 0);
}

await tf.setBackend('cpu');
for (const [name, config] of Object.entries(ENCODERS)) {
  const model = createBert({ ...config, task: 'sequence-classification', numLabels: 2 });
  const total = model.parameters().reduce((count, parameter) => count + parameter.size, 0);
  const head = headParameters(model).reduce((count, target) => count + target.parameter.size, 0);
  const percent = (entries: number) => `${((100 * entries) / total).toFixed(4)}%`;
  console.log(`\n${name}: ${total} parameters, head ${head} (${percent(head)}, trained besides each subset with trainHead)`);
  console.log('| subset | entries | % of all parameters |');
  console.log('|---|---:|---:|');
  for (const subset of BITFIT_SUBSETS) {
    const entries = countEntries(resolveBitFitSubset(model, { subset, seed: 0 }));
    console.log(`| bitfit ${subset} | ${entries} | ${percent(entries)} |`);
  }
  for (const [label, roles] of [
    ['ln-tuning gamma, norm.attention (g_LN1)', ['norm.attention']],
    ['ln-tuning gamma, norm.ffn (g_LN2)', ['norm.ffn']],
    ['ln-tuning gamma, both (g_LN1, g_LN2)', ['norm.attention', 'norm.ffn']],
  ] as const) {
    const entries = gammaCount(model, [...roles]);
    console.log(`| ${label} | ${entries} | ${percent(entries)} |`);
  }
  model.dispose();
}

const REFERENCE = ENCODERS['reference BERT (hidden 64, 2 layers)']!;
const methods: Array<[string, () => MethodConfig]> = [
  ...BITFIT_SUBSETS.map((subset): [string, () => MethodConfig] => [`bitfit ${subset}`, () => bitfit({ subset })]),
  ['ln-tuning gamma g_LN1, g_LN2', () => lnTuning({ tensors: 'gamma', norms: ['attention', 'ffn'] })],
];
console.log('\nreference BERT after 3 AdamW steps (weight decay 0.01 on every kind), head trained:');
console.log('| method | trainable (core report) | changed (core report) |');
console.log('|---|---:|---:|');
for (const [label, make] of methods) {
  setGlobalSeed(1);
  const model = createBert({ ...REFERENCE, task: 'sequence-classification', numLabels: 2, hiddenDropout: 0, attentionDropout: 0 });
  const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 4, seq: 8 });
  const tuned = peft(model, [make()]);
  await train(tuned, { data: [batch], maxSteps: 3, learningRate: 1e-2, weightDecay: 0.01, excludeFromWeightDecay: [] });
  const report = tuned.report();
  console.log(`| ${label} | ${report.trainable} (${report.trainablePercent.toFixed(4)}%) | ${report.changed} (${report.changedPercent!.toFixed(4)}%) |`);
  disposeBatch(batch);
  model.dispose();
}
