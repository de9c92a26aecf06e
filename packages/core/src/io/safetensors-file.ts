import type { tf } from '../nn/tf';
import { writeFileAtomic } from './atomic-write';
import { readFileBytes } from './read-file';
import { decodeSafetensors, serializeSafetensorsChunks, tensorsToRaw, type DecodeSafetensorsOptions, type DecodedSafetensors } from './safetensors';

/**
 * Saves tensors as a `.safetensors` file, atomically (temp file + fsync + rename). The header and
 * each tensor's bytes are written in turn, without first concatenating them into one buffer.
 */
export async function saveSafetensors(path: string, tensors: Record<string, tf.Tensor>, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, serializeSafetensorsChunks(tensorsToRaw(tensors), metadata));
}

/** Loads a `.safetensors` file (validated header; see decodeSafetensors). The caller owns the tensors. */
export async function loadSafetensors(path: string, options?: DecodeSafetensorsOptions): Promise<DecodedSafetensors> {
  return decodeSafetensors(await readFileBytes(path, 'safetensors file'), options);
}
