import type { Options } from 'tsup';

/** The one build preset every package uses: ESM + CJS, types, tree-shakeable. */
export function peftjsTsupPreset(entry: Record<string, string>, overrides: Options = {}): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    treeshake: true,
    splitting: true,
    external: [/^@tensorflow\//, /^@peftjs\//, 'vitest', 'zod'],
    ...overrides,
  };
}
