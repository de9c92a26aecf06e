/** A candidate merge: the pair of symbol ids and its count when it was queued. */
export interface PairEntry {
  left: number;
  right: number;
  count: number;
}

/**
 * Whether `a` should be merged before `b`: higher count first; ties go to the smaller pair of
 * ids, as in the Rust `tokenizers` BPE trainer's `Merge` ordering, so training is deterministic.
 */
function before(a: PairEntry, b: PairEntry): boolean {
  if (a.count !== b.count) return a.count > b.count;
  if (a.left !== b.left) return a.left < b.left;
  return a.right < b.right;
}

/** A binary max-heap of merge candidates (entries may be stale; the trainer rechecks counts on pop). */
export class PairQueue {
  private readonly items: PairEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(entry: PairEntry): void {
    const items = this.items;
    items.push(entry);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(items[index]!, items[parent]!)) break;
      [items[index], items[parent]] = [items[parent]!, items[index]!];
      index = parent;
    }
  }

  pop(): PairEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let best = index;
      if (left < items.length && before(items[left]!, items[best]!)) best = left;
      if (right < items.length && before(items[right]!, items[best]!)) best = right;
      if (best === index) break;
      [items[index], items[best]] = [items[best]!, items[index]!];
      index = best;
    }
    return top;
  }
}
