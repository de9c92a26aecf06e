import { tf } from '../../nn/tf';
import type { WasmBackend } from './wasm-internals';

interface IdentityArgs {
  inputs: { x: tf.TensorInfo };
  backend: WasmBackend;
}

/**
 * `Identity` for the `wasm` backend that shares the input's buffer instead of copying it, as the
 * cpu backend's Identity and wasm's own Reshape do: one more reference on the data id, released
 * by the backend's refcount when the last tensor using it is disposed (string tensors too: their
 * bytes live in the same refcounted record). Wasm kernels never write
 * into their inputs, so sharing is safe. It matters because the engine clones every tensor the
 * gradient tape saves: with the stock copying kernel saved activations cost ~30% more memory.
 */
export function wasmIdentityKernel(): tf.KernelConfig {
  const kernelFunc = (args: IdentityArgs): tf.TensorInfo => {
    const { inputs, backend } = args;
    const { x } = inputs;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
