import { tf } from '../../nn/tf';
import { planSegmentSum, scatterAddSegments } from './segment-sum-plan';

interface CpuBackend extends tf.KernelBackend {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.BackendValues): tf.TensorInfo;
}

interface UnsortedSegmentSumArgs {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: CpuBackend;
  attrs: { numSegments: number };
}

/**
 * `UnsortedSegmentSum` for the `cpu` backend as one O(N) scatter-add (see `scatterAddSegments`).
 * Same results, shape and dtype (float32) as the stock kernel. Ids other than one per row of `x`
 * (never produced by tfjs' own gradients) go to the stock kernel, passed as `stock`.
 */
export function cpuUnsortedSegmentSumKernel(stock: tf.KernelFunc | undefined): tf.KernelConfig {
  const kernelFunc = (args: UnsortedSegmentSumArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { inputs, backend, attrs } = args;
    const { x, segmentIds } = inputs;
    const { numSegments } = attrs;
    const plan = planSegmentSum(x.shape, segmentIds.shape, numSegments);
    if (plan === undefined || x.dtype === 'complex64' || x.dtype === 'string') {
      if (stock === undefined) {
        throw new Error(`UnsortedSegmentSum: segmentIds of shape [${segmentIds.shape}] are not one per row of x's shape [${x.shape}].`);
      }
      return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const out = new Float32Array(tf.util.sizeFromShape(plan.outShape));
    const values = backend.readSync(x.dataId) as ArrayLike<number>;
    const ids = backend.readSync(segmentIds.dataId) as ArrayLike<number>;
    scatterAddSegments(plan, values, ids, numSegments, out);
    return backend.makeTensorInfo(plan.outShape, 'float32', out);
  };
  return { kernelName: tf.UnsortedSegmentSum, backendName: 'cpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
