import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// Works from the ESM and the CJS build alike: CJS has __filename, ESM has import.meta.url.
const requireFromHere = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);

/** The installed directory of an npm package (resolved from this package, offline). */
export function packageDirectory(packageName: string): string {
  return dirname(requireFromHere.resolve(`${packageName}/package.json`));
}
