import { join } from 'node:path';
import { PeftError } from '../errors/peft-error';
import { readJsonFile } from '../io/json-file';
import { loadSafetensors } from '../io/safetensors-file';
import type { tf } from '../nn/tf';
import { ADAPTER_CONFIG_FILE, ADAPTER_MANIFEST_FORMAT, ADAPTER_WEIGHTS_FILE, adapterManifestSchema, methodTensorPrefix } from './adapter-manifest';
import { configErrorFromZod } from './config-error';
import { checkStateKeys } from './kit/strict-state';
import type { AnyModule, AnyPeftMethod } from './erased-types';
import { DEFAULT_ADAPTER_NAME, peft, type AdapterMethodEntry, type PeftModel, type PeftOptions } from './peft-model';
import { defaultRegistry, type MethodRegistry } from './registry';
import type { AppliedMethod, MethodConfig } from './types';

export interface LoadPeftOptions extends PeftOptions {
  /** Where saved method names are looked up. Default: the default registry. */
  registry?: MethodRegistry;
}

/**
 * Loads a saved adapter onto a base model: looks each method up in the registry, re-applies it
 * with its saved config and loads its tensors. Reads this library's manifest, or HF PEFT's
 * `adapter_config.json` for a registered method that declares its `peft_type`. Missing or extra
 * tensors, or a shape that differs, are a 'checkpoint-mismatch' error.
 *
 * @example
 * import '@peftjs/lora/register';
 * const tuned = await loadPeft(baseModel, './my-adapter');
 */
export async function loadPeft<M extends AnyModule>(model: M, dir: string, options: LoadPeftOptions = {}): Promise<PeftModel<M>> {
  const saved = await readSavedAdapter(dir, options.registry ?? defaultRegistry);
  try {
    const peftModel = peft(model, saved.configs, { ...options, adapterName: options.adapterName ?? saved.adapterName });
    saved.load(peftModel.entries());
    return peftModel;
  } finally {
    saved.dispose();
  }
}

/**
 * Loads a saved adapter into an existing PeftModel as another named adapter (HF PEFT's
 * `load_adapter`); it is added disabled and frozen until `setAdapter(adapterName)`.
 */
export async function loadAdapter(peftModel: PeftModel<AnyModule>, dir: string, adapterName: string, options: { registry?: MethodRegistry } = {}): Promise<void> {
  const saved = await readSavedAdapter(dir, options.registry ?? defaultRegistry);
  try {
    peftModel.addAdapter(adapterName, saved.configs);
    saved.load(peftModel.entries(adapterName));
  } finally {
    saved.dispose();
  }
}

/** A saved adapter folder, read and checked: its configured methods, and a loader for their tensors once applied. */
interface SavedAdapter {
  adapterName: string;
  configs: MethodConfig[];
  load(entries: readonly AdapterMethodEntry[]): void;
  /** Disposes the tensors read from the file (loading copies what it keeps). */
  dispose(): void;
}

async function readSavedAdapter(dir: string, registry: MethodRegistry): Promise<SavedAdapter> {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  const json = await readJsonFile(configPath);
  if (typeof json === 'object' && json !== null && (json as { format?: unknown }).format === ADAPTER_MANIFEST_FORMAT) {
    return readManifestAdapter(dir, json, registry);
  }
  const peftType = typeof json === 'object' && json !== null ? (json as { peft_type?: unknown }).peft_type : undefined;
  if (typeof peftType === 'string') return readHfAdapter(dir, json as Record<string, unknown>, peftType, registry);
  throw new PeftError('invalid-config', `${configPath} is neither a peftjs adapter manifest nor an HF PEFT adapter config.`, {
    field: 'format',
    value: (json as { format?: unknown } | null)?.format,
    allowed: [ADAPTER_MANIFEST_FORMAT, 'an HF PEFT config with peft_type'],
  });
}

async function readManifestAdapter(dir: string, json: unknown, registry: MethodRegistry): Promise<SavedAdapter> {
  const parsed = adapterManifestSchema.safeParse(json);
  if (!parsed.success) throw configErrorFromZod(ADAPTER_CONFIG_FILE, parsed.error, json, adapterManifestSchema);
  const manifest = parsed.data;
  const configs: MethodConfig[] = manifest.methods.map((entry) => registry.get(entry.name, entry.package)(entry.config));
  const { tensors } = await loadSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  const prefixes = manifest.methods.map((entry, i) => methodTensorPrefix(i, entry.name));
  const unowned = Object.keys(tensors).filter((key) => !prefixes.some((prefix) => key.startsWith(prefix)));
  if (unowned.length) {
    disposeAll(tensors);
    throw new PeftError('checkpoint-mismatch', `${ADAPTER_WEIGHTS_FILE} has tensors no method of the manifest owns: ${unowned.slice(0, 8).join(', ')}.`, {
      field: 'tensors',
      value: unowned,
      allowed: prefixes.map((prefix) => `${prefix}*`),
    });
  }
  return {
    adapterName: manifest.adapterName,
    configs,
    load(entries) {
      for (const entry of entries) {
        const prefix = prefixes[entry.index]!;
        const own = Object.fromEntries(Object.entries(tensors).filter(([key]) => key.startsWith(prefix)).map(([key, tensor]) => [key.slice(prefix.length), tensor]));
        loadChecked(entry.applied, entry.method, own);
      }
    },
    dispose: () => disposeAll(tensors),
  };
}

async function readHfAdapter(dir: string, hfConfig: Record<string, unknown>, peftType: string, registry: MethodRegistry): Promise<SavedAdapter> {
  const method = registry.list().find((candidate) => candidate.hf?.peftType === peftType);
  if (!method?.hf) {
    const packageName = registry.hfProviderOf(peftType);
    throw new PeftError(
      'unknown-method',
      `No registered method reads HF PEFT adapters of peft_type "${peftType}".` + (packageName ? ` It is provided by ${packageName}: add \`import '${packageName}/register'\`.` : ''),
      { field: 'peft_type', value: peftType, allowed: registry.list().flatMap((m) => (m.hf ? [m.hf.peftType] : [])) },
    );
  }
  const configured = method(method.hf.configFromHf(hfConfig));
  const { tensors } = await loadSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  return {
    adapterName: DEFAULT_ADAPTER_NAME,
    configs: [configured],
    load(entries) {
      const applied = entries[0]!.applied;
      if (!applied.loadHf) {
        throw new PeftError('not-implemented', `Method "${method.name}" declares HF peft_type ${peftType} but its applied form has no loadHf().`, { field: `${method.name}.loadHf`, value: undefined, allowed: 'a loadHf(tensors) function' });
      }
      applied.loadHf(tensors);
    },
    dispose: () => disposeAll(tensors),
  };
}

/** Checks the saved keys and shapes against what the method holds now, then loads. */
function loadChecked(applied: AppliedMethod, method: AnyPeftMethod, saved: Record<string, tf.Tensor>): void {
  const expected = new Map(Object.entries(applied.state()).map(([key, tensor]) => [key, tensor.shape] as const));
  checkStateKeys(method.name, expected, saved);
  applied.load(saved);
}

function disposeAll(tensors: Record<string, tf.Tensor>): void {
  for (const tensor of Object.values(tensors)) if (!tensor.isDisposed) tensor.dispose();
}
