/**
 * Shapes of an unsorted segment sum that a direct scatter-add handles: `segmentIds` has the shape
 * of a prefix of `x` (rank k >= 1). The result has tfjs' stock cpu shape
 * `[numSegments, ...x.shape.slice(1)]`: element `x[n, j1..j(k-1), rest]` is added to
 * `out[segmentIds[n, j1..j(k-1)], j1..j(k-1), rest]`, and ids outside [0, numSegments) are dropped.
 * For the usual rank-1 ids (the gradient of `gather`) that is TensorFlow's
 * `UnsortedSegmentSum`; for higher ranks it follows the stock tfjs cpu kernel, which sums over
 * axis 0 only.
 */
export interface SegmentSumPlan {
  /** x.shape[0]. */
  rows: number;
  /** Product of x.shape[1..k): positions that share a row of ids. */
  middle: number;
  /** Product of x.shape[k..]: elements that share one id. */
  inner: number;
  outShape: number[];
}

/** The plan for these shapes, or undefined when the ids need broadcasting (not a prefix of x). */
export function planSegmentSum(xShape: readonly number[], idsShape: readonly number[], numSegments: number): SegmentSumPlan | undefined {
  const k = idsShape.length;
  if (k < 1 || k > xShape.length) return undefined;
  for (let axis = 0; axis < k; axis++) if (idsShape[axis] !== xShape[axis]) return undefined;
  const product = (dims: readonly number[]): number => dims.reduce((total, dim) => total * dim, 1);
  return {
    rows: xShape[0] ?? 1,
    middle: product(xShape.slice(1, k)),
    inner: product(xShape.slice(k)),
    outShape: [numSegments, ...xShape.slice(1)],
  };
}

/**
 * The O(x.size) scatter-add into `out` (which the caller zero-fills). Replaces the stock cpu
 * kernel's loop over segments, which costs O(numSegments × x.size): 40 of the 54 s of a tiny
 * encoder's training step with a 1,000-word vocabulary.
 */
export function scatterAddSegments(
  plan: SegmentSumPlan,
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  numSegments: number,
  out: Float32Array,
): void {
  const { rows, middle, inner } = plan;
  for (let row = 0; row < rows; row++) {
    for (let position = 0; position < middle; position++) {
      const idIndex = row * middle + position;
      const segment = ids[idIndex]!;
      if (segment < 0 || segment >= numSegments) continue;
      const source = idIndex * inner;
      const target = (segment * middle + position) * inner;
      for (let i = 0; i < inner; i++) out[target + i]! += x[source + i]!;
    }
  }
}
