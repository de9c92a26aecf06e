import type { z } from 'zod';
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
