/**
 * Writes the IA3 adapters made here (test-fixtures/ia3-hf/ours-*) with their logits
 * (ours-expected.json), for check_ours.py to load with HF PEFT in Python and compare. The fixture
 * bases and inputs come from make_fixtures.py. hf-format.test.ts checks that the exporter still
 * writes exactly these files.
 * Run: pnpm --filter @peftjs/adapters write-ia3-hf-fixtures
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '@peftjs/core';
import { IA3_FIXTURES, OUR_ADAPTERS, fixtureBatch, loadFixtureBase, ourAdapter, readExpected, type ExpectedLogits } from '../src/ia3/hf-test-support';

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
  const dir = join(IA3_FIXTURES, name);
  await rm(dir, { recursive: true, force: true });
  await tuned.save(dir, { format: 'hf' });
  expected.adapters[name] = { base: spec.base, task: spec.task, logits: nested(tuned), baseLogits };
  tuned.model.dispose();
  console.log(`wrote ${name}`);
}
await writeFile(join(IA3_FIXTURES, 'ours-expected.json'), `${JSON.stringify(expected)}\n`);
tf.dispose(Object.values(batch));
