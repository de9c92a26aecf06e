import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PeftError } from '../errors/peft-error';
import { writeFileAtomic } from '../io/atomic-write';
import { serializeSafetensorsChunks, type RawSafetensor } from '../io/safetensors';
import { saveSafetensors } from '../io/safetensors-file';
import type { tf } from '../nn/tf';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MANIFEST_FORMAT,
  ADAPTER_MANIFEST_VERSION,
  ADAPTER_SAFETENSORS_METADATA,
  ADAPTER_WEIGHTS_FILE,
  configToJson,
  methodTensorPrefix,
  type AdapterManifest,
} from './adapter-manifest';
import type { AdapterMethodEntry } from './adapter-entry';

export interface SaveAdapterOptions {
  /** Which adapter to save. Default: the active one. */
  adapterName?: string;
  /**
   * `peftjs` (default): the manifest of every method plus their tensors. `hf`: HF PEFT's own files,
   * for an adapter of one method that supports it (`exportHf`), loadable by Python's `peft`.
   */
  format?: 'peftjs' | 'hf';
}

/** The manifest that `adapter_config.json` holds for these methods. */
export function adapterManifest(entries: readonly AdapterMethodEntry[]): AdapterManifest {
  const adapterName = entries[0]?.adapterName ?? '';
  return {
    format: ADAPTER_MANIFEST_FORMAT,
    formatVersion: ADAPTER_MANIFEST_VERSION,
    adapterName,
    methods: entries.map((entry) => ({
      name: entry.method.name,
      package: entry.method.packageName,
      ...(entry.method.packageVersion !== undefined ? { packageVersion: entry.method.packageVersion } : {}),
      kind: entry.method.kind,
      adapterName: entry.adapterName,
      config: configToJson(entry.config, `${entry.method.name}`),
    })),
  };
}

/** Every method's state, each key prefixed by the method's index and name. The tensors belong to the methods. */
export function adapterTensors(entries: readonly AdapterMethodEntry[]): Record<string, tf.Tensor> {
  const tensors: Record<string, tf.Tensor> = {};
  for (const entry of entries) {
    const prefix = methodTensorPrefix(entry.index, entry.method.name);
    for (const [key, tensor] of Object.entries(entry.applied.state())) tensors[`${prefix}${key}`] = tensor;
  }
  return tensors;
}

const DTYPE_BYTES: Readonly<Record<string, { dtype: RawSafetensor['dtype']; bytes: number }>> = {
  float32: { dtype: 'F32', bytes: 4 },
  int32: { dtype: 'I32', bytes: 4 },
  bool: { dtype: 'BOOL', bytes: 1 },
};

/**
 * The exact size of the safetensors file these tensors make, without reading their values: the
 * header is built by the same serializer over placeholder bytes of the right lengths.
 */
export function safetensorsFileBytes(tensors: Record<string, tf.Tensor>, metadata: Record<string, string> = ADAPTER_SAFETENSORS_METADATA): number {
  const sizes = Object.entries(tensors).map(([name, tensor]) => {
    const info = DTYPE_BYTES[tensor.dtype];
    if (!info) throw new PeftError('invalid-argument', `Tensor "${name}" has dtype ${tensor.dtype}, which cannot be saved.`, { field: `tensors.${name}.dtype`, value: tensor.dtype, allowed: Object.keys(DTYPE_BYTES) });
    return { name, shape: tensor.shape, dtype: info.dtype, length: tensor.size * info.bytes };
  });
  const scratch = new Uint8Array(Math.max(0, ...sizes.map((s) => s.length)));
  const raw = Object.fromEntries(sizes.map((s) => [s.name, { dtype: s.dtype, shape: s.shape, data: scratch.subarray(0, s.length) }]));
  const [header] = serializeSafetensorsChunks(raw, { ...metadata });
  return header!.length + sizes.reduce((total, s) => total + s.length, 0);
}

/** Writes an adapter's two files into `dir` (created if missing), each atomically; the config last. */
export async function saveAdapter(entries: readonly AdapterMethodEntry[], dir: string, options: SaveAdapterOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((options.format ?? 'peftjs') === 'hf') {
    await saveHfAdapter(entries, dir);
    return;
  }
  const manifest = adapterManifest(entries);
  await saveSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), adapterTensors(entries), { ...ADAPTER_SAFETENSORS_METADATA });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function saveHfAdapter(entries: readonly AdapterMethodEntry[], dir: string): Promise<void> {
  const only = entries.length === 1 ? entries[0] : undefined;
  if (!only?.applied.exportHf) {
    throw new PeftError('not-implemented', `HF PEFT's file format holds one method that supports it; this adapter has ${entries.map((e) => e.method.name).join(', ')}.`, {
      field: 'format',
      value: 'hf',
      allowed: ['peftjs', 'hf (single method with exportHf)'],
    });
  }
  const files = only.applied.exportHf();
  try {
    await saveSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), files.tensors, { ...ADAPTER_SAFETENSORS_METADATA });
    await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(files.config, null, 2)}\n`);
  } finally {
    for (const tensor of Object.values(files.tensors)) tensor.dispose();
  }
}
