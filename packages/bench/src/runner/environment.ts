import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { currentBackend, tf } from '@peftjs/core';
import type { BenchBackend, BenchMachine } from '../report/results';

/** The backend that runs now, as the results record it. */
export function backendInfo(): BenchBackend {
  const info = currentBackend();
  return { name: tf.getBackend(), native: info?.native ?? false, gpu: info?.gpu ?? false };
}

export function machineInfo(): BenchMachine {
  const model = cpus()[0]?.model;
  return { platform: process.platform, cpus: availableParallelism(), node: process.version, ...(model ? { cpuModel: model.trim() } : {}) };
}

/** Versions of the packages that shape the numbers (those that resolve from here). */
export function packageVersions(packages: readonly string[] = ['@peftjs/core', '@peftjs/bench', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of packages) {
    try {
      const require = createRequire(import.meta.url);
      const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: string };
      if (manifest.version) versions[name] = manifest.version;
    } catch {
      // Not resolvable from here (or no import.meta in a CommonJS build): left out of the record.
    }
  }
  return versions;
}
