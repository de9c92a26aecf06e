import { tf } from '../../nn/tf';
import type { WasmBackend } from './wasm-internals';

interface OneHotArgs {
  inputs: { indices: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
}

/**
 * `OneHot` for the `wasm` backend. The stock kernel's C++ side always writes int32, so with
 * `dtype: 'float32'` the output holds integer bit patterns (on 1 reads as 1.4e-45, off −1 as NaN):
 * any loss built on `tf.oneHot(labels, n, 1, 0, 'float32')` is silently wrong on wasm in tfjs 4.22.
 * This writes the requested dtype, with the cpu kernel's rule: indices outside [0, depth) give an
 * all-off row.
 */
export function wasmOneHotKernel(): tf.KernelConfig {
  const kernelFunc = (args: OneHotArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { indices } = inputs;
    const { depth, onValue, offValue, dtype } = attrs;
    // Allocate first: makeOutput can grow the heap, which detaches views taken before it.
    const out = backend.makeOutput([...indices.shape, depth], dtype);
    const values = backend.typedArrayFromHeap(out);
    values.fill(offValue);
    const ids = backend.typedArrayFromHeap(indices);
    for (let row = 0; row < ids.length; row++) {
      const index = ids[row]!;
      if (index >= 0 && index < depth) values[row * depth + index] = onValue;
    }
    return out;
  };
  return { kernelName: tf.OneHot, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
