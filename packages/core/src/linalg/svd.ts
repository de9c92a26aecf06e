import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';

/** A dense row-major matrix on the host. */
export interface HostMatrix {
  data: ArrayLike<number>;
  rows: number;
  cols: number;
}

/** Thin SVD M = U·diag(s)·Vᵀ, k = min(rows, cols), singular values descending. */
export interface SvdResult {
  /** rows × k, row-major; columns for zero singular values are zero. */
  u: Float64Array;
  s: Float64Array;
  /** cols × k, row-major. */
  v: Float64Array;
  rows: number;
  cols: number;
  k: number;
}

const MAX_SWEEPS = 60;

/**
 * Thin SVD by one-sided Jacobi rotations (Hestenes), in float64 on the host: accurate to machine
 * precision and simple, which suits the small matrices of adapter arithmetic (merging LoRA
 * updates, projecting gradients); tfjs has no SVD. Cost O(sweeps · rows · cols²).
 */
export function svd(matrix: HostMatrix): SvdResult {
  const { rows, cols } = matrix;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || matrix.data.length !== rows * cols) {
    throw new PeftError('invalid-argument', `svd needs a rows × cols matrix with rows·cols entries; got ${rows} × ${cols} with ${matrix.data.length}.`, {
      field: 'matrix',
      value: { rows, cols, length: matrix.data.length },
      allowed: 'positive integer sizes and data.length === rows * cols',
    });
  }
  // Work on the tall orientation: orthogonalize the n ≤ m columns of an m × n matrix.
  const transposed = cols > rows;
  const m = transposed ? cols : rows;
  const n = transposed ? rows : cols;
  const a = new Float64Array(m * n); // column-major: column j at [j*m, (j+1)*m)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const value = Number(matrix.data[i * cols + j]);
      if (!Number.isFinite(value)) throw new PeftError('invalid-argument', `svd: entry (${i}, ${j}) is ${value}.`, { field: 'matrix', value, allowed: 'finite entries' });
      if (transposed) a[i * m + j] = value;
      else a[j * m + i] = value;
    }
  }
  const v = new Float64Array(n * n); // column-major
  for (let j = 0; j < n; j++) v[j * n + j] = 1;

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = a[p * m + i]!;
          const y = a[q * m + i]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(a, m, p, q, c, s);
        rotate(v, n, p, q, c, s);
      }
    }
    if (!rotated) break;
  }

  const norms = Array.from({ length: n }, (_, j) => {
    let total = 0;
    for (let i = 0; i < m; i++) total += a[j * m + i]! ** 2;
    return Math.sqrt(total);
  });
  const order = norms.map((_, j) => j).sort((x, y) => norms[y]! - norms[x]!);
  const largest = norms[order[0]!] ?? 0;
  const k = n;
  const left = new Float64Array(m * k); // row-major m × k
  const right = new Float64Array(n * k); // row-major n × k
  const singular = new Float64Array(k);
  order.forEach((j, rank) => {
    const sigma = norms[j]!;
    // Below this the column is numerical noise of a rank-deficient matrix: report 0 and no direction.
    const zero = sigma <= largest * 1e-13;
    singular[rank] = zero ? 0 : sigma;
    for (let i = 0; i < m; i++) left[i * k + rank] = zero ? 0 : a[j * m + i]! / sigma;
    for (let i = 0; i < n; i++) right[i * k + rank] = v[j * n + i]!;
  });
  // M = A·V with A's columns orthogonal; for the transposed problem Mᵀ = U'ΣV'ᵀ, so M = V'ΣU'ᵀ.
  return transposed ? { u: right, s: singular, v: left, rows, cols, k } : { u: left, s: singular, v: right, rows, cols, k };
}

function rotate(columns: Float64Array, length: number, p: number, q: number, c: number, s: number): void {
  for (let i = 0; i < length; i++) {
    const x = columns[p * length + i]!;
    const y = columns[q * length + i]!;
    columns[p * length + i] = c * x - s * y;
    columns[q * length + i] = s * x + c * y;
  }
}

/** The rank-r truncation of a 2-D tensor's SVD as float32 tensors: u [rows, r], s [r], v [cols, r]. */
export function truncatedSvd(matrix: tf.Tensor2D, rank: number): { u: tf.Tensor2D; s: tf.Tensor1D; v: tf.Tensor2D } {
  const [rows, cols] = matrix.shape;
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols)) {
    throw new PeftError('invalid-argument', `truncatedSvd: rank must be an integer in [1, ${Math.min(rows, cols)}]; got ${rank}.`, { field: 'rank', value: rank, allowed: `1..${Math.min(rows, cols)}` });
  }
  const { u, s, v, k } = svd({ data: matrix.dataSync(), rows, cols });
  const take = (source: Float64Array, height: number) => {
    const out = new Float32Array(height * rank);
    for (let i = 0; i < height; i++) for (let j = 0; j < rank; j++) out[i * rank + j] = source[i * k + j]!;
    return out;
  };
  return { u: tf.tensor2d(take(u, rows), [rows, rank]), s: tf.tensor1d(Float32Array.from(s.subarray(0, rank))), v: tf.tensor2d(take(v, cols), [cols, rank]) };
}
