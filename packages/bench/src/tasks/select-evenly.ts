/** `count` items spread evenly over the list (all of it when shorter), in order: a deterministic, position-unbiased subset. */
export function selectEvenly<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}
