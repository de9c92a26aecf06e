import { tf } from '../nn/tf';

interface CpuBackendFlags {
  firstUse?: boolean;
}

/**
 * Stops tfjs' cpu backend from printing its "install our node backend" banner. The banner is printed
 * on the backend's first tensor whenever it runs in Node, and sends users to @tensorflow/tfjs-node, a
 * package that downloads a native library when installed (so it cannot install offline) and that
 * peftjs treats as an optional extra: `initBackend` picks the backend itself and says which one runs.
 * Every other tfjs warning stays: this only marks cpu backends as past their first use, in the
 * registered factory (for backends made later) and on the one already made, if any.
 */
export function silenceCpuBackendBanner(): void {
  const engine = tf.engine() as unknown as { registry: Record<string, unknown>; registryFactory: Record<string, { factory: () => unknown } | undefined> };
  const existing = engine.registry['cpu'] as CpuBackendFlags | undefined;
  if (existing !== undefined) existing.firstUse = false;
  const entry = engine.registryFactory['cpu'];
  if (entry === undefined || quietFactories.has(entry.factory)) return;
  const original = entry.factory;
  const quiet = () => {
    const backend = original() as CpuBackendFlags;
    backend.firstUse = false;
    return backend;
  };
  quietFactories.add(quiet);
  entry.factory = quiet;
}

const quietFactories = new WeakSet<() => unknown>();

silenceCpuBackendBanner();
