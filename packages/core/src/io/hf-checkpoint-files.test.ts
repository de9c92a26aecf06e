import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { loadHfWeights } from './hf-checkpoint-files';
import { encodeSafetensors } from './safetensors';

let directory: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'peftjs-hf-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function writeShard(name: string, tensors: Record<string, tf.Tensor>): Promise<void> {
  await writeFile(join(directory, name), encodeSafetensors(tensors));
  tf.dispose(Object.values(tensors));
}

describe('loadHfWeights', () => {
  it('reads model.safetensors', async () => {
    await writeShard('model.safetensors', { a: tf.tensor([1, 2]) });
    const tensors = await loadHfWeights(directory);
    expect(tensors.a!.arraySync()).toEqual([1, 2]);
    tf.dispose(Object.values(tensors));
  });

  it('reads the shards an index lists', async () => {
    await writeShard('model-00001-of-00002.safetensors', { a: tf.tensor([1]) });
    await writeShard('model-00002-of-00002.safetensors', { b: tf.tensor([2]), c: tf.tensor([3]) });
    const weightMap = { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' };
    await writeFile(join(directory, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const tensors = await loadHfWeights(directory);
    expect(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.arraySync()]))).toEqual({ a: [1], b: [2], c: [3] });
    tf.dispose(Object.values(tensors));
  });

  it('refuses shards outside the directory and tensors in the wrong shard, without leaking', async () => {
    await writeShard('one.safetensors', { a: tf.tensor([1]) });
    await writeShard('two.safetensors', { b: tf.tensor([2]) });
    const before = tf.memory().numTensors;
    await writeFile(join(directory, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'one.safetensors', b: 'one.safetensors' } }));
    await expect(loadHfWeights(directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'checkpoint-mismatch'));
    await writeFile(join(directory, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'two.safetensors', b: 'one.safetensors' } }));
    await expect(loadHfWeights(directory)).rejects.toThrow(/"b" in shard two\.safetensors is not where/);
    await writeFile(join(directory, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../one.safetensors' } }));
    await expect(loadHfWeights(directory)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-config'));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('explains that pickle checkpoints are not read', async () => {
    await writeFile(join(directory, 'pytorch_model.bin'), 'not read');
    await expect(loadHfWeights(directory)).rejects.toThrow(/pickle can run code/);
  });
});
