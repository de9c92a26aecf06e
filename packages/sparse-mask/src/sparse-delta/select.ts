import { PeftError, SeedStream } from '@peftjs/core';

/**
 * The k global indices with the largest scores (scores of all targets side by side, in target
 * order). Ties are broken by the lower index, so the selection is deterministic. O(N) average
 * (quickselect on a copy of the scores), no full sort.
 */
export function topKIndices(scores: readonly Float32Array[], k: number): Int32Array {
  const total = scores.reduce((n, s) => n + s.length, 0);
  if (k > total) throw new PeftError('invalid-config', `Cannot choose ${k} entries out of ${total}.`, { field: 'density', value: k, allowed: `at most ${total} entries` });
  const result = new Int32Array(k);
  if (k === 0) return result;
  const all = new Float32Array(total);
  let offset = 0;
  for (const s of scores) {
    for (let i = 0; i < s.length; i++) all[offset + i] = Number.isNaN(s[i]!) ? -Infinity : s[i]!;
    offset += s.length;
  }
  const threshold = kthLargest(Float32Array.from(all), k);
  let above = 0;
  for (let i = 0; i < total; i++) if (all[i]! > threshold) above++;
  let ties = k - above;
  let n = 0;
  for (let i = 0; i < total && n < k; i++) {
    const value = all[i]!;
    if (value > threshold) result[n++] = i;
    else if (value === threshold && ties > 0) {
      result[n++] = i;
      ties--;
    }
  }
  return result;
}

/** The k-th largest value of `values` (reorders it). */
function kthLargest(values: Float32Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i] = values[j]!;
        values[j] = swap;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return values[target]!;
  }
  return values[target]!;
}

/** k distinct indices drawn uniformly from [0, total) (Floyd's algorithm), deterministic under the seed. */
export function randomIndices(total: number, k: number, seed: number): Int32Array {
  if (k > total) throw new PeftError('invalid-config', `Cannot choose ${k} entries out of ${total}.`, { field: 'density', value: k, allowed: `at most ${total} entries` });
  const random = new SeedStream(seed);
  const chosen = new Set<number>();
  for (let j = total - k; j < total; j++) {
    const t = random.nextInt(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from(chosen).sort();
}

/** k = ⌊N·p⌋, the paper's ⌊mp⌋ (Fu et al. §4, Eq. 4), at least 1. */
export function entriesAtDensity(total: number, density: number): number {
  return Math.max(1, Math.floor(total * density));
}
