import type { tf } from '../../nn/tf';

/**
 * The parts of `@tensorflow/tfjs-backend-wasm`'s `BackendWasm` (4.22) that our kernels use. The
 * package does not export these as types; they are stable within the pinned version and are
 * what its own kernels use (`kernels/Reshape.js`, `kernels/BatchMatMul.js`).
 */
export interface WasmTensorData {
  /** The id the C++ side knows the tensor by. */
  id: number;
  /** Byte offset of the tensor's data in the wasm heap. */
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

export interface WasmModule {
  HEAPU8: Uint8Array;
  cwrap(name: string, returnType: null | 'number', argTypes: readonly string[]): (...args: unknown[]) => unknown;
  tfjs: {
    /** Makes `size` elements at `memoryOffset` known to C++ under `id` (no allocation). */
    registerTensor(id: number, size: number, memoryOffset: number): void;
    /** Forgets `id` on the C++ side and runs its disposal callbacks (frees nothing). */
    disposeData(id: number): void;
  };
}

export interface WasmBackend extends tf.KernelBackend {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: tf.DataId): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: tf.DataId): void;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** The wasm-side record of a tensor; throws if the backend does not hold it. */
export function wasmTensorData(backend: WasmBackend, info: tf.TensorInfo): WasmTensorData {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('peftjs wasm kernel: tensor data not found on the wasm backend.');
  return data;
}
