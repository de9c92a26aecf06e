import type { NodeRequire } from './node-require';

/** The file system calls the binding check needs (node:fs in production, a fake in tests). */
export interface BindingFileSystem {
  existsSync(path: string): boolean;
  readdirSync(path: string): string[];
}

/**
 * The native binding of an installed `@tensorflow/tfjs-node(-gpu)` package, or undefined. Its
 * install script downloads libtensorflow and builds `lib/napi-v<N>/tfjs_binding.node`; without
 * internet the package is present but the binding is not, and importing it then registers ~150
 * kernels before throwing. So the binding is checked before any import.
 */
export function findNativeBinding(packageDir: string, fs: BindingFileSystem, join: (...parts: string[]) => string): string | undefined {
  const lib = join(packageDir, 'lib');
  if (!fs.existsSync(lib)) return undefined;
  const napiDirs = fs
    .readdirSync(lib)
    .filter((name) => /^napi-v\d+$/.test(name))
    .sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
  for (const dir of napiDirs) {
    const binding = join(lib, dir, 'tfjs_binding.node');
    if (fs.existsSync(binding)) return binding;
  }
  return undefined;
}

/** Where `packageName` is installed (the folder holding its package.json), as the first resolver that finds it sees it. */
export function resolvePackageDir(
  packageName: string,
  requires: readonly NodeRequire[],
  dirname: (path: string) => string,
): { dir: string; require: NodeRequire } | undefined {
  for (const require of requires) {
    try {
      return { dir: dirname(require.resolve(`${packageName}/package.json`)), require };
    } catch {
      // Not resolvable from this location; try the next one.
    }
  }
  return undefined;
}
