import { tf } from '../../nn/tf';
import { planSegmentSum, scatterAddSegments } from './segment-sum-plan';
import type { WasmBackend } from './wasm-internals';

interface UnsortedSegmentSumArgs {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { numSegments: number };
}

/**
 * `UnsortedSegmentSum` for the `wasm` backend, which has none in tfjs 4.22. It is the gradient of
 * `gather`, so without it no embedding table, soft prompt or prefix can be trained on wasm.
 * One O(N) scatter-add over the heap, with the stock cpu kernel's results, shape and dtype.
 */
export function wasmUnsortedSegmentSumKernel(): tf.KernelConfig {
  const kernelFunc = (args: UnsortedSegmentSumArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { x, segmentIds } = inputs;
    const { numSegments } = attrs;
    const plan = planSegmentSum(x.shape, segmentIds.shape, numSegments);
    if (plan === undefined) {
      throw new Error(
        `UnsortedSegmentSum on wasm: segmentIds of shape [${segmentIds.shape}] must be rank 1 with one id per row of x's shape [${x.shape}].`,
      );
    }
    // Allocate first: makeOutput can grow the heap, which detaches views taken before it.
    const out = backend.makeOutput(plan.outShape, 'float32');
    const outValues = backend.typedArrayFromHeap(out) as Float32Array;
    outValues.fill(0);
    scatterAddSegments(plan, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(segmentIds), numSegments, outValues);
    return out;
  };
  return { kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
