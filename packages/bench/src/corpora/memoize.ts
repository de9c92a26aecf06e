/** Runs `load` once, on first use, and keeps its result: corpora are parsed lazily and cached in memory. */
export function memoize<T>(load: () => T): () => T {
  let loaded = false;
  let value: T | undefined;
  return () => {
    if (!loaded) {
      value = load();
      loaded = true;
    }
    return value as T;
  };
}
