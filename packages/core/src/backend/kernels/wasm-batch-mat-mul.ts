import { tf } from '../../nn/tf';
import { wasmTensorData, type WasmBackend } from './wasm-internals';

interface BatchMatMulArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

type WasmMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: number,
  transposeB: number,
  outId: number,
) => void;

const FLOAT_BYTES = 4;
const wasmMatMulByModule = new WeakMap<object, WasmMatMul>();

/** The C++ BatchMatMul entry point of this backend's wasm module (what the stock kernel calls). */
function wasmMatMul(backend: WasmBackend): WasmMatMul {
  let call = wasmMatMulByModule.get(backend.wasm);
  if (call === undefined) {
    call = backend.wasm.cwrap(tf.BatchMatMul, null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]) as WasmMatMul;
    wasmMatMulByModule.set(backend.wasm, call);
  }
  return call;
}

function shapeBytes(shape: readonly number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * out[rows, n] = a[rows, k] · b[k, n] on XNNPACK's fast path, over raw heap ranges. Each range is
 * made known to C++ under a fresh id for the call only: the C++ side caches the packed XNNPACK
 * operator per `b` id, so a fresh id also avoids a stale operator when one buffer is read under
 * two shapes; forgetting the id drops that cache entry. No data is copied or freed here.
 */
function matMul2d(backend: WasmBackend, aOffset: number, rows: number, k: number, bOffset: number, n: number, outOffset: number): void {
  const ids: number[] = [];
  const view = (offset: number, size: number): number => {
    const id = backend.dataIdNextNumber++;
    backend.wasm.tfjs.registerTensor(id, size, offset);
    ids.push(id);
    return id;
  };
  try {
    const aId = view(aOffset, rows * k);
    const bId = view(bOffset, k * n);
    const outId = view(outOffset, rows * n);
    wasmMatMul(backend)(aId, shapeBytes([1, rows, k]), 3, bId, shapeBytes([1, k, n]), 3, 0, 0, outId);
  } finally {
    for (const id of ids) backend.wasm.tfjs.disposeData(id);
  }
}

/** Index into a right-aligned broadcast operand's batch dims for a flat output batch index. */
function broadcastBatchIndex(outIndex: number, outShape: readonly number[], shape: readonly number[]): number {
  let remaining = outIndex;
  let index = 0;
  let stride = 1;
  for (let axis = outShape.length - 1, own = shape.length - 1; axis >= 0; axis--, own--) {
    const outDim = outShape[axis]!;
    const coordinate = remaining % outDim;
    remaining = Math.floor(remaining / outDim);
    if (own < 0) continue;
    const dim = shape[own]!;
    if (dim !== 1) index += coordinate * stride;
    stride *= dim;
  }
  return index;
}

function swapLastTwo(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array.from({ length: rank - 2 }, (_, axis) => axis), rank - 1, rank - 2];
  const transpose = tf.getKernel(tf.Transpose, 'wasm').kernelFunc;
  return transpose({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * `BatchMatMul` for the `wasm` backend that keeps XNNPACK on its fast path. The stock kernel uses
 * XNNPACK (15–17 GFLOP/s) only for one non-transposed rank-2 product and otherwise a naive loop
 * (~1.2 GFLOP/s, 0.66 with transposeA); backprop is mostly transposed products. Here transposed
 * operands are transposed explicitly first, a batch against a single right-hand matrix is folded
 * into the rows of one product, and other batches run one 2-D product per output matrix (with
 * right-aligned batch broadcasting, as the cpu kernel does). 10–14× faster on transposed
 * shapes, 3–5× on attention shapes (TFJS-NOTES).
 */
export function wasmBatchMatMulKernel(): tf.KernelConfig {
  const kernelFunc = (args: BatchMatMulArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      throw new Error('BatchMatMul for non non-float32 tensors not yet supported.');
    }
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    const innerA = transposeA ? a.shape[aRank - 2]! : a.shape[aRank - 1]!;
    const innerB = transposeB ? b.shape[bRank - 1]! : b.shape[bRank - 2]!;
    const rows = transposeA ? a.shape[aRank - 1]! : a.shape[aRank - 2]!;
    const columns = transposeB ? b.shape[bRank - 2]! : b.shape[bRank - 1]!;
    if (innerA !== innerB) {
      throw new Error(
        `Error in matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ${a.shape} and ` +
          `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
      );
    }
    const aBatchShape = a.shape.slice(0, -2);
    const bBatchShape = b.shape.slice(0, -2);
    const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
    const temporaries: tf.TensorInfo[] = [];
    const plain = (x: tf.TensorInfo, transposed: boolean): tf.TensorInfo => {
      if (!transposed) return x;
      const swapped = swapLastTwo(backend, x);
      temporaries.push(swapped);
      return swapped;
    };
    try {
      const aPlain = plain(a, transposeA);
      const bPlain = plain(b, transposeB);
      // Allocate the output before reading any heap offsets' contents (allocation can grow the heap).
      const out = backend.makeOutput([...outBatchShape, rows, columns], 'float32');
      const outBatch = tf.util.sizeFromShape(outBatchShape);
      if (rows === 0 || columns === 0 || outBatch === 0) return out;
      if (innerA === 0) {
        backend.typedArrayFromHeap(out).fill(0);
        return out;
      }
      const aOffset = wasmTensorData(backend, aPlain).memoryOffset;
      const bOffset = wasmTensorData(backend, bPlain).memoryOffset;
      const outOffset = wasmTensorData(backend, out).memoryOffset;
      if (tf.util.sizeFromShape(bBatchShape) === 1) {
        matMul2d(backend, aOffset, outBatch * rows, innerA, bOffset, columns, outOffset);
        return out;
      }
      const aMatrixBytes = rows * innerA * FLOAT_BYTES;
      const bMatrixBytes = innerA * columns * FLOAT_BYTES;
      const outMatrixBytes = rows * columns * FLOAT_BYTES;
      for (let index = 0; index < outBatch; index++) {
        const aIndex = broadcastBatchIndex(index, outBatchShape, aBatchShape);
        const bIndex = broadcastBatchIndex(index, outBatchShape, bBatchShape);
        matMul2d(
          backend,
          aOffset + aIndex * aMatrixBytes,
          rows,
          innerA,
          bOffset + bIndex * bMatrixBytes,
          columns,
          outOffset + index * outMatrixBytes,
        );
      }
      return out;
    } finally {
      for (const temporary of temporaries) backend.disposeData(temporary.dataId);
    }
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
