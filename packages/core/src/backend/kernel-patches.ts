import { tf } from '../nn/tf';
import { cpuUnsortedSegmentSumKernel } from './kernels/cpu-unsorted-segment-sum';
import { wasmBatchMatMulKernel } from './kernels/wasm-batch-mat-mul';
import { wasmIdentityKernel } from './kernels/wasm-identity';
import { wasmOneHotKernel } from './kernels/wasm-one-hot';
import { wasmUnsortedSegmentSumKernel } from './kernels/wasm-unsorted-segment-sum';

interface KernelOverride {
  kernelName: string;
  backendName: string;
  /** Builds the override; `stock` is the kernel it replaces, if the backend had one. */
  make(stock: tf.KernelConfig | undefined): tf.KernelConfig;
}

/** Every kernel peftjs replaces or adds, per backend (see each kernel's file for why). */
const KERNEL_OVERRIDES: readonly KernelOverride[] = [
  { kernelName: tf.UnsortedSegmentSum, backendName: 'cpu', make: (stock) => cpuUnsortedSegmentSumKernel(stock?.kernelFunc) },
  { kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', make: () => wasmUnsortedSegmentSumKernel() },
  { kernelName: tf.BatchMatMul, backendName: 'wasm', make: () => wasmBatchMatMulKernel() },
  { kernelName: tf.Identity, backendName: 'wasm', make: () => wasmIdentityKernel() },
  { kernelName: tf.OneHot, backendName: 'wasm', make: () => wasmOneHotKernel() },
];

interface PatchRecord {
  /** The kernel registered before ours (undefined: the backend had none). */
  stock: tf.KernelConfig | undefined;
  /** Ours, to recognise it in the registry. */
  patched: tf.KernelConfig;
}

/**
 * The kernel registry lives on `globalThis`, shared by every copy of tfjs-core, so the record of
 * what was patched lives there too: a second copy of @peftjs/core sees the first one's patches.
 */
function patchRecords(): Map<string, PatchRecord> {
  const key = Symbol.for('peftjs.backend.kernelPatches');
  const store = globalThis as unknown as Record<symbol, Map<string, PatchRecord> | undefined>;
  let records = store[key];
  if (records === undefined) {
    records = new Map();
    store[key] = records;
  }
  return records;
}

function registeredKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  return tf.getKernel(kernelName, backendName) as tf.KernelConfig | undefined;
}

function recordKey(override: KernelOverride): string {
  return `${override.backendName}/${override.kernelName}`;
}

/**
 * Registers peftjs' kernel overrides for `backendName` ('cpu' and 'wasm' have some; others none)
 * and returns the names of the kernels that are now overridden. Idempotent. `initBackend` calls it
 * once the backend's package is loaded (a package loaded later would register its stock kernels
 * over these).
 */
export function patchKernels(backendName: string): string[] {
  const records = patchRecords();
  const names: string[] = [];
  for (const override of KERNEL_OVERRIDES) {
    if (override.backendName !== backendName) continue;
    const key = recordKey(override);
    const current = registeredKernel(override.kernelName, backendName);
    const record = records.get(key);
    if (record === undefined || current !== record.patched) {
      const stock = record !== undefined && current === undefined ? record.stock : current;
      if (current !== undefined) tf.unregisterKernel(override.kernelName, backendName);
      const patched = override.make(stock);
      tf.registerKernel(patched);
      records.set(key, { stock, patched });
    }
    names.push(override.kernelName);
  }
  return names;
}

/**
 * Puts back the stock kernels that `patchKernels` replaced on `backendName` (and removes the ones
 * it added), to measure or compare against stock tfjs. Returns the names it restored.
 */
export function restoreStockKernels(backendName: string): string[] {
  const records = patchRecords();
  const names: string[] = [];
  for (const override of KERNEL_OVERRIDES) {
    if (override.backendName !== backendName) continue;
    const key = recordKey(override);
    const record = records.get(key);
    if (record === undefined) continue;
    if (registeredKernel(override.kernelName, backendName) === record.patched) {
      tf.unregisterKernel(override.kernelName, backendName);
      if (record.stock !== undefined) {
        tf.registerKernel(record.stock);
        // The engine runs setup functions only in setBackend; run it now in case it never ran.
        const backend = tf.engine().registry[backendName];
        if (backend !== undefined) record.stock.setupFunc?.(backend);
      }
    }
    records.delete(key);
    names.push(override.kernelName);
  }
  return names;
}

/** The kernels of `backendName` that are currently peftjs overrides. */
export function patchedKernels(backendName: string): string[] {
  const records = patchRecords();
  return KERNEL_OVERRIDES.filter((override) => {
    const record = records.get(recordKey(override));
    return override.backendName === backendName && record !== undefined && registeredKernel(override.kernelName, backendName) === record.patched;
  }).map((override) => override.kernelName);
}
