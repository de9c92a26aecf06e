import type { SeedStream } from '../util/random';

/** A permutation of 0..n−1 drawn from the stream (Fisher–Yates), so the order is reproducible from its seed. */
export function shuffledIndices(count: number, stream: SeedStream): number[] {
  const indices = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = stream.nextInt(i + 1);
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
  }
  return indices;
}
