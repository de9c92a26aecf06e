import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findNativeBinding, resolvePackageDir } from './native-binding';

const root = mkdtempSync(join(tmpdir(), 'peftjs-native-'));

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function fakePackage(name: string, files: string[]): string {
  const dir = join(root, name);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), '');
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('findNativeBinding', () => {
  it('finds lib/napi-v*/tfjs_binding.node, newest napi version first', () => {
    const dir = fakePackage('both', ['lib/napi-v3/tfjs_binding.node', 'lib/napi-v8/tfjs_binding.node', 'lib/napi-v10/tfjs_binding.node']);
    expect(findNativeBinding(dir, fs, join)).toBe(join(dir, 'lib', 'napi-v10', 'tfjs_binding.node'));
  });

  it('reports a package whose install could not download libtensorflow as having no binding', () => {
    expect(findNativeBinding(fakePackage('broken', ['dist/index.js', 'lib/napi-v8/README']), fs, join)).toBeUndefined();
    expect(findNativeBinding(fakePackage('nolib', ['dist/index.js']), fs, join)).toBeUndefined();
  });
});

describe('resolvePackageDir', () => {
  const require = createRequire(import.meta.url);

  it('finds an installed package folder', () => {
    const resolved = resolvePackageDir('@tensorflow/tfjs-backend-wasm', [require], dirname);
    expect(resolved?.dir).toMatch(/tfjs-backend-wasm$/);
    expect(fs.existsSync(join(resolved!.dir, 'dist', 'tfjs-backend-wasm.wasm'))).toBe(true);
  });

  it('tries each resolver in turn and gives undefined for a missing package', () => {
    // A resolver that finds nothing (a real one from a temp folder may still see NODE_PATH).
    const failing = Object.assign(() => undefined, {
      resolve: () => {
        throw new Error('not found');
      },
    }) as unknown as NodeJS.Require;
    expect(resolvePackageDir('@tensorflow/tfjs-backend-wasm', [failing, require], dirname)?.require).toBe(require);
    expect(resolvePackageDir('@peftjs/no-such-package', [failing, require], dirname)).toBeUndefined();
  });
});
