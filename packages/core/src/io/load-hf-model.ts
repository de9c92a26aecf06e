import type { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import type { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { loadHfWeights, readHfConfig } from './hf-checkpoint-files';
import { assignHfTensors, type HfCheckpointSpec, type HfLoadResult } from './hf-mapping';

/** What differs between architectures when loading an HF checkpoint directory. */
export interface HfModelLoader<S extends z.ZodType<Record<string, unknown>>, C extends { numLayers: number }, M extends Module<any, any>> {
  /** Schema of the architecture's config.json. */
  configSchema: S;
  /** Our model config for the HF config; settings the reference model cannot reproduce throw. */
  toConfig(hfConfig: z.output<S>): C;
  create(config: C): M;
  /** The architecture's name table. */
  checkpoint: HfCheckpointSpec;
  /** The sizes config.json declares, checked against the weights before the model is allocated from them. */
  declaredSizes(config: C): DeclaredSizes;
}

/**
 * The sizes a config.json declares, with where the checkpoint confirms each. A model is allocated
 * from these numbers, so a hostile or mistaken config (vocab_size 2^53) must fail here, naming the
 * field, and not in a multi-gigabyte allocation.
 */
export interface DeclaredSizes {
  /** Each must be a dimension of the tensor whose key is `tensor` or ends with `.<tensor>` (skipped when absent); `axis` is where it belongs. */
  dimensions: Array<{ field: string; value: number | undefined; tensor: string; axis: number }>;
  /** At most as many layers as the checkpoint holds (distinct indices captured by `pattern`). */
  layers: { field: string; value: number; pattern: RegExp };
  /** Sizes of heads that may be newly initialised: each at most `limit` (the checkpoint cannot confirm them). */
  limits?: Array<{ field: string; value: number | undefined; limit: number; reason: string }>;
}

/**
 * Reads config.json + the safetensors weights of a directory and assigns them into a new model,
 * all or nothing: on any mismatch the model is disposed and the error rethrown. The loaded
 * tensors are always disposed (their values were copied into the model's variables).
 */
export async function loadHfModel<S extends z.ZodType<Record<string, unknown>>, C extends { numLayers: number }, M extends Module<any, any>>(
  directory: string,
  loader: HfModelLoader<S, C, M>,
  options: { reinitializeMismatchedHeads?: boolean } = {},
): Promise<HfLoadResult<M>> {
  const hfConfig = await readHfConfig(directory, loader.configSchema);
  const config = loader.toConfig(hfConfig);
  const tensors = await loadHfWeights(directory);
  let model: M | undefined;
  try {
    checkDeclaredSizes(loader.declaredSizes(config), tensors);
    model = loader.create(config);
    const info = assignHfTensors(model, tensors, loader.checkpoint, config.numLayers, {
      reinitializeMismatchedHeads: options.reinitializeMismatchedHeads ?? false,
    });
    return { model, info, hfConfig };
  } catch (error) {
    model?.dispose();
    throw error;
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

function checkDeclaredSizes(declared: DeclaredSizes, tensors: Readonly<Record<string, tf.Tensor>>): void {
  const keys = Object.keys(tensors);
  for (const { field, value, tensor } of declared.dimensions) {
    if (value === undefined) continue;
    const key = keys.find((candidate) => candidate === tensor || candidate.endsWith(`.${tensor}`));
    if (key === undefined) continue;
    // Only a bound for the allocation: a size the tensor has on any axis passes, so a transposed or
    // otherwise mismatched tensor is still reported with all the others by assignHfTensors.
    const shape = tensors[key]!.shape;
    if (!shape.includes(value)) {
      throw new PeftError('checkpoint-mismatch', `config.json says ${field} = ${value}, but the checkpoint's ${key} has shape [${shape.join(', ')}].`, {
        field,
        value,
        allowed: shape.map(String),
      });
    }
  }
  const { field, value, pattern } = declared.layers;
  const layers = new Set(keys.flatMap((key) => pattern.exec(key)?.[1] ?? []));
  if (value > layers.size) {
    throw new PeftError('checkpoint-mismatch', `config.json says ${field} = ${value}, but the checkpoint holds ${layers.size} layers.`, {
      field,
      value,
      allowed: `at most ${layers.size}`,
    });
  }
  for (const limit of declared.limits ?? []) {
    if (limit.value !== undefined && limit.value > limit.limit) {
      throw new PeftError('checkpoint-mismatch', `config.json says ${limit.field} = ${limit.value}, more than ${limit.limit} (${limit.reason}).`, {
        field: limit.field,
        value: limit.value,
        allowed: `at most ${limit.limit}`,
      });
    }
  }
}
