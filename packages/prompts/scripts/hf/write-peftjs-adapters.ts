/**
 * Writes adapters peftjs makes, in HF PEFT's file format, for `check_peftjs_files.py` to load in Python:
 * for each case, the fixture's base model (`src/__fixtures__/hf/<case>/base`) with a peftjs method
 * applied and moved away from its init, saved with `save(dir, { format: 'hf' })`, and `expected.json`
 * with the inputs and the logits peftjs computes (causal-LM logits of the real tokens only).
 *
 *   pnpm --filter @peftjs/prompts exec tsx --conditions=@peftjs/source scripts/hf/write-peftjs-adapters.ts <out dir>
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { peft, tf, type MethodConfig } from '@peftjs/core';
import { loadHfCase } from '../../src/shared/hf-fixtures.test-support';
import { pTuning, prefixTuning, promptTuning } from '../../src/index';

const out = process.argv[2];
if (!out) throw new Error('usage: write-peftjs-adapters.ts <out dir>');

const cases: Array<{ name: string; base: string; method: () => MethodConfig }> = [
  { name: 'bert-prompt-tuning', base: 'bert-prompt-tuning', method: () => promptTuning({ numVirtualTokens: 4, init: 'random', modulesToSave: { roles: ['head'] } }) },
  { name: 'bert-prefix-tuning', base: 'bert-prefix-tuning', method: () => prefixTuning({ numVirtualTokens: 3, modulesToSave: { roles: ['head'] } }) },
  { name: 'bert-prefix-projection', base: 'bert-prefix-tuning', method: () => prefixTuning({ numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 16, modulesToSave: { roles: ['head'] } }) },
  { name: 'bert-p-tuning', base: 'bert-p-tuning', method: () => pTuning({ numVirtualTokens: 4, encoderHiddenSize: 16, modulesToSave: { roles: ['head'] } }) },
  { name: 'gpt2-prompt-tuning', base: 'gpt2-prompt-tuning', method: () => promptTuning({ numVirtualTokens: 4, init: 'random' }) },
  { name: 'gpt2-prefix-tuning', base: 'gpt2-prefix-tuning', method: () => prefixTuning({ numVirtualTokens: 3 }) },
  { name: 'gpt2-prefix-projection', base: 'gpt2-prefix-tuning', method: () => prefixTuning({ numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 16 }) },
  { name: 'gpt2-p-tuning-lstm', base: 'gpt2-p-tuning-lstm', method: () => pTuning({ numVirtualTokens: 4, encoder: 'lstm', encoderHiddenSize: 16 }) },
];

await tf.setBackend('cpu');
for (const testCase of cases) {
  const loaded = await loadHfCase(testCase.base);
  const tuned = peft(loaded.base, [testCase.method()]);
  tuned.model.eval();
  for (const parameter of tuned.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.3, 'float32', 11))));
  const logits = loaded.logits(tuned);
  const dir = join(out, testCase.name);
  await mkdir(dir, { recursive: true });
  await tuned.save(join(dir, 'adapter'), { format: 'hf' });
  const { logits: _hf, baseLogits: _base, ...inputs } = loaded.expected;
  await writeFile(join(dir, 'expected.json'), JSON.stringify({ ...inputs, base: testCase.base, logits: logits.arraySync() }));
  logits.dispose();
  console.log(`${testCase.name}: written`);
}
