import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHfBert, loadHfGpt2, peft, tf, type Batch, type MethodConfig, type Module, type PeftModel, type TaskModel } from '@peftjs/core';
import { ia3 } from './method';

/** The golden IA3 fixtures: bases and adapters made by HF PEFT (make_fixtures.py), and ours (write-ia3-hf-fixtures.ts). */
export const IA3_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../test-fixtures/ia3-hf');

export type FixtureBase = 'bert' | 'gpt2';
export type FixtureTask = 'sequence-classification' | 'causal-lm';

/** What hf-expected.json / ours-expected.json hold. */
export interface ExpectedLogits {
  inputIds: number[][];
  attentionMask: number[][];
  adapters: Record<string, { base: FixtureBase; task?: FixtureTask; logits: unknown; baseLogits: unknown }>;
}

export async function readExpected(file: 'hf-expected.json' | 'ours-expected.json'): Promise<ExpectedLogits> {
  return JSON.parse(await readFile(join(IA3_FIXTURES, file), 'utf8')) as ExpectedLogits;
}

/** A fixture base checkpoint as the given task (GPT-2's causal LM ties the LM head, as HF does). */
export async function loadFixtureBase(base: FixtureBase, task: FixtureTask): Promise<TaskModel & Module<any, any>> {
  const directory = join(IA3_FIXTURES, base);
  const { model } = base === 'bert' ? await loadHfBert(directory, { task: 'sequence-classification' }) : await loadHfGpt2(directory, { task });
  model.eval();
  return model;
}

export function fixtureBatch(expected: ExpectedLogits): Batch {
  return { inputIds: tf.tensor2d(expected.inputIds, undefined, 'int32'), attentionMask: tf.tensor2d(expected.attentionMask, undefined, 'int32') };
}

export function logitsOf(model: { forward(batch: Batch): { logits: tf.Tensor } }, batch: Batch): number[] {
  return tf.tidy(() => Array.from(model.forward(batch).logits.dataSync()));
}

/** Largest absolute difference of two nested number arrays of the same layout. */
export function maxDifference(a: unknown, b: unknown): number {
  const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
  const [left, right] = [flat(a), flat(b)];
  if (left.length !== right.length) throw new Error(`layouts differ: ${left.length} vs ${right.length} numbers`);
  return left.reduce((max, value, i) => Math.max(max, Math.abs(value - right[i]!)), 0);
}

/** The adapters we write for Python to load (check_ours.py): each config on its base and task. */
export const OUR_ADAPTERS: Record<string, { base: FixtureBase; task: FixtureTask; method: () => MethodConfig }> = {
  // Keys, values, FFN intermediate, and the classifier trained (modules_to_save).
  'ours-bert-seq-cls': { base: 'bert', task: 'sequence-classification', method: () => ia3({ modulesToSave: { roles: ['head'] } }) },
  // The fused c_attn and the FFN intermediate, head frozen: SEQ_CLS still stores the score head.
  'ours-gpt2-seq-cls': { base: 'gpt2', task: 'sequence-classification', method: () => ia3() },
  // Another choice of feed-forward target (the input of mlp.c_fc) on a causal LM.
  'ours-gpt2-causal-lm': { base: 'gpt2', task: 'causal-lm', method: () => ia3({ targets: { roles: ['attention.qkv', 'ffn.up'] }, feedforward: { roles: ['ffn.up'] } }) },
};

/** Sets every trained tensor to known values far from its init: vectors 1 + 0.5·sin, head weights plus 0.5·sin (closed forms). */
export function setKnownValues(tuned: PeftModel<Module<any, any>>): void {
  tuned.trainableParameters().forEach((parameter, n) => {
    const wave = Float32Array.from({ length: parameter.size }, (_, i) => 0.5 * Math.sin(1.3 * i + 0.7 * n + 0.1));
    const base = parameter.value.dataSync();
    const values = parameter.kind === 'ia3' ? wave.map((delta) => 1 + delta) : wave.map((delta, i) => base[i]! + delta);
    tf.tidy(() => parameter.assign(tf.tensor(values, parameter.shape)));
  });
}

/** One of our adapters applied to a fresh base, with its known values. */
export async function ourAdapter(name: string): Promise<PeftModel<TaskModel & Module<any, any>>> {
  const spec = OUR_ADAPTERS[name]!;
  const model = await loadFixtureBase(spec.base, spec.task);
  const tuned = peft(model, [spec.method()]);
  setKnownValues(tuned);
  return tuned;
}
