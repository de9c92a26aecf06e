import type { createRequire } from 'node:module';

type NodeRequire = ReturnType<typeof createRequire>;

/** True when running under Node.js (where the native backends and the wasm files on disk exist). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';
}

/**
 * `require` functions that resolve packages the way this package and the running app see them:
 * first from this module's own location (the optional peers are linked beside `@peftjs/core`),
 * then from the working directory (an app that installed `@tensorflow/tfjs-node` itself).
 * Works from source under vitest and tsx (ESM: `import.meta.url`) and from the built CJS bundle
 * (`__filename`; the CJS build has no `import.meta`). Empty outside Node.
 */
export async function nodeRequires(): Promise<NodeRequire[]> {
  if (!isNode()) return [];
  const { createRequire: makeRequire } = await import('node:module');
  const { join } = await import('node:path');
  const here = typeof __filename === 'string' ? __filename : import.meta.url;
  return [makeRequire(here), makeRequire(join(process.cwd(), 'package.json'))];
}

export type { NodeRequire };
