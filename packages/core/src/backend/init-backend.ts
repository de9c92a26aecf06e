import { invalidArgument, PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { BACKEND_CANDIDATES, candidatesFor, type BackendCandidate } from './backend-candidates';
import {
  BACKEND_NAMES,
  BACKEND_PREFERENCES,
  type BackendInfo,
  type BackendName,
  type BackendPreference,
  type InitBackendOptions,
  type SkippedBackend,
} from './backend-types';
import { setStreamingBackward } from '../grad/gradient-targets';
import { patchedKernels, patchKernels, restoreStockKernels } from './kernel-patches';
import { silenceCpuBackendBanner } from './quiet-cpu-backend';
import { isNode } from './node-require';

/** The environment variable that picks the backend when `initBackend` is not told one. */
export const BACKEND_ENV_VAR = 'PEFTJS_BACKEND';

function isPreference(value: unknown): value is BackendPreference {
  return typeof value === 'string' && (BACKEND_PREFERENCES as readonly string[]).includes(value);
}

function resolvePreference(prefer: unknown): BackendPreference {
  if (prefer !== undefined) {
    if (!isPreference(prefer)) invalidArgument('prefer', prefer, BACKEND_PREFERENCES);
    return prefer;
  }
  const fromEnv = isNode() ? process.env[BACKEND_ENV_VAR]?.trim() : undefined;
  if (fromEnv === undefined || fromEnv === '') return 'auto';
  if (!isPreference(fromEnv)) invalidArgument(BACKEND_ENV_VAR, fromEnv, BACKEND_PREFERENCES);
  return fromEnv;
}

/** The last backend `initBackend` chose (on globalThis: one engine per process, like tfjs' own state). */
function lastChoice(): { info?: BackendInfo } {
  const key = Symbol.for('peftjs.backend.lastChoice');
  const store = globalThis as unknown as Record<symbol, { info?: BackendInfo } | undefined>;
  store[key] ??= {};
  return store[key];
}

async function availableCandidates(options: InitBackendOptions): Promise<string[]> {
  const available: string[] = [];
  for (const candidate of BACKEND_CANDIDATES) {
    if ((await candidate.probe(options)) === undefined) available.push(candidate.id);
  }
  return available;
}

async function activate(candidate: BackendCandidate, options: InitBackendOptions): Promise<string | undefined> {
  const reason = await candidate.prepare(options);
  if (reason !== undefined) return reason;
  try {
    if (!(await tf.setBackend(candidate.backend))) return `tf.setBackend('${candidate.backend}') failed to initialise it`;
    await tf.ready();
  } catch (error) {
    return `initialising '${candidate.backend}' threw: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}

/**
 * Selects the TensorFlow.js backend, best available first: `@tensorflow/tfjs-node-gpu` (CUDA),
 * `@tensorflow/tfjs-node` (native CPU), `@tensorflow/tfjs-backend-wasm`, then `cpu`; switches to
 * it (`await tf.setBackend` + `await tf.ready()`) and registers peftjs' kernel overrides for it
 * (an O(N) UnsortedSegmentSum on cpu and wasm; on wasm also a BatchMatMul that stays on XNNPACK's
 * fast path, an Identity that shares buffers and a OneHot that honours float32). Call it once
 * before building models: on wasm, the stock OneHot silently corrupts float32 one-hot losses.
 *
 * The native packages are optional peers: they are used only when their native binding exists,
 * which is checked before importing them. `prefer` (or env `PEFTJS_BACKEND`) forces one; if that
 * one cannot be used, a PeftError('backend-unavailable') says why and lists what is available.
 *
 * @example
 * const { backend } = await initBackend();            // 'wasm' on a machine without tfjs-node
 * await initBackend({ prefer: 'cpu' });                 // force the pure-JS backend
 * await initBackend({ prefer: 'wasm', kernels: 'stock' }); // tfjs' own kernels, to compare
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  // Also here, for a bundle that dropped the import-time call: the banner's advice does not apply to peftjs.
  silenceCpuBackendBanner();
  const preference = resolvePreference(options.prefer);
  if (options.kernels !== undefined && options.kernels !== 'fast' && options.kernels !== 'stock') {
    invalidArgument('kernels', options.kernels, ['fast', 'stock']);
  }
  const skipped: SkippedBackend[] = [];
  for (const candidate of candidatesFor(preference)) {
    const reason = await activate(candidate, options);
    if (reason !== undefined) {
      skipped.push({ candidate: candidate.id, reason });
      continue;
    }
    let kernelsPatched: string[] = [];
    if (options.kernels === 'stock') restoreStockKernels(candidate.backend);
    else kernelsPatched = patchKernels(candidate.backend);
    // 'stock' compares against tfjs as shipped: its own backward too, which keeps everything to the end.
    setStreamingBackward(options.kernels !== 'stock');
    const info: BackendInfo = {
      backend: candidate.backend,
      name: candidate.backend,
      packageName: candidate.packageName,
      native: candidate.native,
      gpu: candidate.gpu,
      kernelsPatched,
      skipped,
    };
    lastChoice().info = info;
    return info;
  }
  const available = await availableCandidates(options);
  const reasons = skipped.map((entry) => `${entry.candidate}: ${entry.reason}`).join('; ');
  throw new PeftError(
    'backend-unavailable',
    `Backend '${preference}' is not available (${reasons}). Available: ${available.join(', ') || 'none'}.`,
    { field: 'prefer', value: preference, allowed: available },
  );
}

/**
 * The backend tfjs is running on now: what `initBackend` returned if tfjs is still on that
 * backend, else a description from the engine (with the kernels peftjs has patched on it).
 * Undefined when no backend is initialised yet, or when it is one peftjs does not select
 * (webgl, webgpu).
 */
export function currentBackend(): BackendInfo | undefined {
  const name = tf.engine().backendName as string | null | undefined;
  if (name === null || name === undefined || tf.engine().registry[name] === undefined) return undefined;
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) return undefined;
  const backend = name as BackendName;
  const last = lastChoice().info;
  if (last !== undefined && last.backend === backend) return { ...last, kernelsPatched: patchedKernels(backend) };
  const candidate = BACKEND_CANDIDATES.find((entry) => entry.backend === backend && !entry.gpu);
  return {
    backend,
    name: backend,
    packageName: candidate?.packageName ?? 'unknown',
    native: backend === 'tensorflow',
    gpu: false,
    kernelsPatched: patchedKernels(backend),
    skipped: [],
  };
}
