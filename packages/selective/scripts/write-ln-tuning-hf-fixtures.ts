/**
 * Writes the LN_TUNING adapters made here (test-fixtures/ln-tuning-hf/ours-*) with their logits
 * (ours-expected.json), for check_ours.py to load with HF PEFT in Python and compare. The fixture
 * bases and inputs come from make_fixtures.py. hf-format.test.ts checks that the exporter still
 * writes exactly these files.
 * Run: pnpm --filter @peftjs/selective write-ln-tuning-hf-fixtures
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '@peftjs/core';
import { LN_TUNING_FIXTURES, OUR_ADAPTERS, fixtureBatch, loadFixtureBase, ourAdapter, readExpected, type ExpectedLogits } from '../src/ln-tuning/hf-test-support';

await tf.setBackend('cpu');
const inputs = await readExpected('hf-expected.json');
const batch = fixtureBatch(inputs);
const nested = (model: { forward(b: typeof batch): { logits: tf.Tensor } }) => tf.tidy(() => model.forward(batch).logits.arraySync());
const expected: ExpectedLogits = { inputIds: inputs.inputIds, attentionMask: inputs.attentionMask, adapters: {} };
for (const [name, spec] of Object.entries(OUR_ADAPTERS)) {
  const base = await loadFixtureBase(spec.base, spec.task);
  const baseLogits = nested(base);
  base.dispose();
  const tuned = await ourAdapter(name);
  const dir = join(LN_TUNING_FIXTURES, name);
  await rm(dir, { recursive: true, force: true });
  await tuned.save(dir, { format: 'hf' });
  expected.adapters[name] = { base: spec.base, task: spec.task, logits: nested(tuned), baseLogits };
  tuned.model.dispose();
  console.log(`wrote ${name}`);
}
await writeFile(join(LN_TUNING_FIXTURES, 'ours-expected.json'), `${JSON.stringify(expected)}\n`);
tf.dispose(Object.values(batch));
