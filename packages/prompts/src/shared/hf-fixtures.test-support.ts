import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry, loadHfBert, loadHfGpt2, loadPeft, tf, type ModelOutput, type PeftMethod, type PeftModel, type ReferenceTransformer } from '@peftjs/core';

/** The fixtures HF PEFT wrote (scripts/hf/make_fixtures.py). */
export const HF_FIXTURES = join(import.meta.dirname, '..', '__fixtures__', 'hf');

interface Expected {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
  logits: number[][] | number[][][];
  baseLogits: number[][] | number[][][];
}

export interface LoadedHfCase {
  base: ReferenceTransformer;
  expected: Expected;
  /** Runs a model on the fixture's padded batch; the caller disposes the logits. */
  logits(model: { forward(inputs: never): ModelOutput }): tf.Tensor;
}

/** The fixture's base model (HF `save_pretrained`) and its expected logits. */
export async function loadHfCase(name: string): Promise<LoadedHfCase> {
  const dir = join(HF_FIXTURES, name);
  const expected = JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Expected;
  const base = (name.startsWith('bert') ? (await loadHfBert(join(dir, 'base'), { task: 'sequence-classification' })).model : (await loadHfGpt2(join(dir, 'base'), { task: 'causal-lm' })).model) as ReferenceTransformer;
  base.eval();
  return {
    base,
    expected,
    logits(model) {
      return tf.tidy(() => {
        const inputs = {
          inputIds: tf.tensor2d(expected.inputIds, undefined, 'int32'),
          attentionMask: tf.tensor2d(expected.attentionMask, undefined, 'float32'),
          ...(expected.tokenTypeIds ? { tokenTypeIds: tf.tensor2d(expected.tokenTypeIds, undefined, 'int32') } : {}),
        };
        return (model.forward as (inputs: unknown) => ModelOutput)(inputs).logits;
      });
    },
  };
}

/** Applies HF PEFT's adapter of a fixture to its base model. */
export async function loadHfAdapter(name: string, loaded: LoadedHfCase, methods: Array<PeftMethod<any>>): Promise<PeftModel<ReferenceTransformer>> {
  const tuned = await loadPeft(loaded.base, join(HF_FIXTURES, name, 'adapter'), { registry: createRegistry(methods) });
  tuned.model.eval();
  return tuned;
}

/** max |a − b| over all entries. */
export function maxAbsDifference(a: tf.Tensor, b: tf.Tensor | number[] | number[][] | number[][][]): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b instanceof tf.Tensor ? b : tf.tensor(b)))).dataSync()[0]!);
}
