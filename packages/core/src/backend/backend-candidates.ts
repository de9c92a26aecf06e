import { tf } from '../nn/tf';
import type { BackendName, BackendPreference, InitBackendOptions } from './backend-types';
import { findNativeBinding, resolvePackageDir } from './native-binding';
import { isNode, nodeRequires } from './node-require';

/** One way to get a backend, best first in `BACKEND_CANDIDATES`. */
export interface BackendCandidate {
  /** The name a user may pass as `prefer` for exactly this candidate. */
  id: 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
  backend: BackendName;
  packageName: string;
  native: boolean;
  gpu: boolean;
  /** Why it cannot be used, checked without importing anything; undefined when it looks usable. */
  probe(options: InitBackendOptions): Promise<string | undefined>;
  /** Registers the backend with tfjs (importing its package); returns why not, or undefined. */
  prepare(options: InitBackendOptions): Promise<string | undefined>;
}

/** Which package registered 'tensorflow' through peftjs (kept on globalThis like tfjs' own registries). */
function loadedNativePackage(): { name?: string } {
  const key = Symbol.for('peftjs.backend.nativePackage');
  const store = globalThis as unknown as Record<symbol, { name?: string } | undefined>;
  store[key] ??= {};
  return store[key];
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function nativeCandidate(id: 'tfjs-node-gpu' | 'tfjs-node', gpu: boolean): BackendCandidate {
  const packageName = `@tensorflow/${id}`;
  const probe = async (): Promise<string | undefined> => {
    if (tf.findBackendFactory('tensorflow') !== null) {
      const loaded = loadedNativePackage().name;
      if (loaded === packageName || (loaded === undefined && !gpu)) return undefined;
      return `the 'tensorflow' backend is already registered by ${loaded ?? 'another package'}`;
    }
    if (!isNode()) return 'native backends need Node.js';
    const [{ existsSync, readdirSync }, { dirname, join }] = await Promise.all([import('node:fs'), import('node:path')]);
    const resolved = resolvePackageDir(packageName, await nodeRequires(), dirname);
    if (resolved === undefined) return `${packageName} is not installed`;
    if (findNativeBinding(resolved.dir, { existsSync, readdirSync }, join) === undefined) {
      return `${packageName} is installed but lib/napi-v*/tfjs_binding.node is missing (its install script downloads libtensorflow and needs internet)`;
    }
    return undefined;
  };
  return {
    id,
    backend: 'tensorflow',
    packageName,
    native: true,
    gpu,
    probe,
    async prepare() {
      const reason = await probe();
      if (reason !== undefined || tf.findBackendFactory('tensorflow') !== null) return reason;
      const { dirname } = await import('node:path');
      const resolved = resolvePackageDir(packageName, await nodeRequires(), dirname);
      try {
        resolved?.require(packageName);
      } catch (error) {
        return `${packageName} failed to load: ${errorMessage(error)}`;
      }
      if (tf.findBackendFactory('tensorflow') === null) return `${packageName} loaded but registered no 'tensorflow' backend`;
      loadedNativePackage().name = packageName;
      return undefined;
    },
  };
}

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const WASM_BINARY = 'tfjs-backend-wasm.wasm';

interface WasmPackageModule {
  setWasmPaths(prefixOrFileMap: string | Record<string, string>, usePlatformFetch?: boolean): void;
}

/** The installed wasm package's folder and its `dist/` with the .wasm files, under Node. */
async function locateWasmPackage(): Promise<{ dist: string; load: () => WasmPackageModule } | string> {
  const [{ existsSync }, { dirname, join, sep }] = await Promise.all([import('node:fs'), import('node:path')]);
  const resolved = resolvePackageDir(WASM_PACKAGE, await nodeRequires(), dirname);
  if (resolved === undefined) return `${WASM_PACKAGE} is not installed`;
  const dist = join(resolved.dir, 'dist') + sep;
  if (!existsSync(join(dist, WASM_BINARY))) return `${WASM_PACKAGE} has no ${WASM_BINARY} in ${dist}`;
  return { dist, load: () => resolved.require(WASM_PACKAGE) as WasmPackageModule };
}

const wasmCandidate: BackendCandidate = {
  id: 'wasm',
  backend: 'wasm',
  packageName: WASM_PACKAGE,
  native: false,
  gpu: false,
  async probe(options) {
    if (tf.findBackendFactory('wasm') !== null || !isNode() || options.wasmPaths !== undefined) return undefined;
    const located = await locateWasmPackage();
    return typeof located === 'string' ? located : undefined;
  },
  async prepare(options) {
    // Registered already (by an earlier call, or by the app with its own wasm paths): use as is.
    if (tf.findBackendFactory('wasm') !== null) return undefined;
    if (!isNode()) {
      const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as WasmPackageModule;
      if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths);
      return undefined;
    }
    const located = await locateWasmPackage();
    if (typeof located === 'string') return located;
    try {
      // The package's Node bundle finds the binaries beside itself; setting the folder explicitly
      // keeps that working when an app bundles this code somewhere else.
      located.load().setWasmPaths(options.wasmPaths ?? located.dist);
    } catch (error) {
      return `${WASM_PACKAGE} failed to load: ${errorMessage(error)}`;
    }
    return undefined;
  },
};

const cpuCandidate: BackendCandidate = {
  id: 'cpu',
  backend: 'cpu',
  packageName: '@tensorflow/tfjs-backend-cpu',
  native: false,
  gpu: false,
  probe: async () => (tf.findBackendFactory('cpu') === null ? "the 'cpu' backend is not registered" : undefined),
  prepare: async () => (tf.findBackendFactory('cpu') === null ? "the 'cpu' backend is not registered" : undefined),
};

/** Best first: CUDA, native CPU, wasm (XNNPACK, SIMD), then plain JavaScript. */
export const BACKEND_CANDIDATES: readonly BackendCandidate[] = [
  nativeCandidate('tfjs-node-gpu', true),
  nativeCandidate('tfjs-node', false),
  wasmCandidate,
  cpuCandidate,
];

/** The candidates a preference allows, best first. */
export function candidatesFor(preference: BackendPreference): BackendCandidate[] {
  switch (preference) {
    case 'auto':
      return [...BACKEND_CANDIDATES];
    case 'tensorflow':
      return BACKEND_CANDIDATES.filter((candidate) => candidate.native);
    default:
      return BACKEND_CANDIDATES.filter((candidate) => candidate.id === preference);
  }
}
