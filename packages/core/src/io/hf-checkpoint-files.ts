import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { readJsonFile } from './json-file';
import { loadSafetensors } from './safetensors-file';

/** The files of an HF checkpoint directory (what `save_pretrained` writes). */
export const HF_CONFIG_FILE = 'config.json';
export const HF_WEIGHTS_FILE = 'model.safetensors';
export const HF_WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

const ShardIndexSchema = z.looseObject({ weight_map: z.record(z.string(), z.string()) });

/**
 * Reads every tensor of an HF checkpoint directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json`. Pickle files (`pytorch_model.bin`) are refused by design: loading
 * them runs code. The caller owns (disposes) the tensors.
 */
export async function loadHfWeights(directory: string): Promise<Record<string, tf.Tensor>> {
  const single = join(directory, HF_WEIGHTS_FILE);
  if (await exists(single)) return (await loadSafetensors(single)).tensors;
  const indexPath = join(directory, HF_WEIGHTS_INDEX_FILE);
  if (!(await exists(indexPath))) {
    const hasPickle = await exists(join(directory, 'pytorch_model.bin'));
    throw new PeftError(
      'invalid-argument',
      `No ${HF_WEIGHTS_FILE} in ${directory}.${hasPickle ? ' It has pytorch_model.bin, which is not read (pickle can run code): convert it with `model.save_pretrained(dir, safe_serialization=True)` in Python.' : ''}`,
      { field: 'directory', value: directory, allowed: `a directory with ${HF_WEIGHTS_FILE} or ${HF_WEIGHTS_INDEX_FILE}` },
    );
  }
  const index = await readJsonFile(indexPath, ShardIndexSchema);
  const shards = [...new Set(Object.values(index.weight_map))];
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const shard of shards) {
      if (shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
        throw new PeftError('invalid-config', `${HF_WEIGHTS_INDEX_FILE} names shard "${shard}" outside the checkpoint directory.`, {
          field: 'weight_map',
          value: shard,
          allowed: 'file names inside the checkpoint directory',
        });
      }
      const loaded = (await loadSafetensors(join(directory, shard))).tensors;
      for (const [name, tensor] of Object.entries(loaded)) {
        if (Object.hasOwn(tensors, name) || index.weight_map[name] !== shard) {
          tf.dispose(Object.values(loaded));
          throw new PeftError('checkpoint-mismatch', `Tensor "${name}" in shard ${shard} is not where ${HF_WEIGHTS_INDEX_FILE} says, or appears twice.`, {
            field: 'weight_map',
            value: name,
            allowed: 'each tensor in exactly the shard the index names',
          });
        }
        Object.defineProperty(tensors, name, { value: tensor, enumerable: true, writable: true, configurable: true });
      }
    }
    const absent = Object.keys(index.weight_map).filter((name) => !Object.hasOwn(tensors, name));
    if (absent.length > 0) {
      throw new PeftError('checkpoint-mismatch', `${HF_WEIGHTS_INDEX_FILE} lists tensors no shard holds: ${absent.join(', ')}.`, {
        field: 'weight_map',
        value: absent,
        allowed: 'each listed tensor in its shard',
      });
    }
  } catch (error) {
    tf.dispose(Object.values(tensors));
    throw error;
  }
  return tensors;
}

/** Reads and validates an HF config.json with an architecture's schema. */
export async function readHfConfig<S extends z.ZodType>(directory: string, schema: S): Promise<z.output<S>> {
  return readJsonFile(join(directory, HF_CONFIG_FILE), schema);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
