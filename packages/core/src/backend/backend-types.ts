/** The tfjs backends peftjs selects between ('tensorflow' is tfjs-node or tfjs-node-gpu). */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/**
 * What `initBackend` may be asked for: 'auto' (best available), a backend name, or one native
 * package ('tfjs-node-gpu' for CUDA, 'tfjs-node' for native CPU; 'tensorflow' takes either, GPU first).
 */
export const BACKEND_PREFERENCES = ['auto', 'tensorflow', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

/** Which kernels to run: peftjs' overrides ('fast', the default) or tfjs' own ('stock', to compare). */
export type KernelSet = 'fast' | 'stock';

export interface InitBackendOptions {
  /** Force a backend instead of the best available one. Default: env `PEFTJS_BACKEND`, else 'auto'. */
  prefer?: BackendPreference;
  /**
   * Where the wasm binaries are: a folder prefix or a map from file name to path/URL, as
   * `setWasmPaths` of @tensorflow/tfjs-backend-wasm takes it. Default: the installed package's
   * own `dist/` folder (found through Node's resolver, so bundling the JS does not break it).
   */
  wasmPaths?: string | Record<string, string>;
  /** Default 'fast'. */
  kernels?: KernelSet;
  /**
   * Core's pruned, streaming backward (grad/gradient-targets.ts): frees saved tensors as the backward
   * walks the tape. Off by default: it gave wrong gradients through P-tuning's prompt encoder in a
   * finite-difference test, which is not understood yet.
   */
  streamingBackward?: boolean;
}

/** A backend candidate that was skipped, and why. */
export interface SkippedBackend {
  candidate: string;
  reason: string;
}

/** The backend `initBackend` switched to. Name it in every report. */
export interface BackendInfo {
  /** The tfjs backend name now active. */
  backend: BackendName;
  /** The same as `backend`. */
  name: BackendName;
  /** The package that provides it. */
  packageName: string;
  /** libtensorflow (tfjs-node or tfjs-node-gpu). */
  native: boolean;
  /** CUDA (tfjs-node-gpu). */
  gpu: boolean;
  /** Kernels replaced or added by peftjs on this backend (empty with `kernels: 'stock'`). */
  kernelsPatched: string[];
  /** Better candidates that were not used, and why (e.g. a native package without its binding). */
  skipped: SkippedBackend[];
}
