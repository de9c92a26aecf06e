import { fileURLToPath } from 'node:url';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * Tests run against each package's `src` through the `@peftjs/source` export condition,
 * so no build is needed before testing.
 */
export function peftjsVitestConfig(name: string) {
  const conditions = ['@peftjs/source', ...defaultServerConditions];
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@peftjs/source'] } },
    test: {
      name,
      environment: 'node',
      include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      pool: 'forks',
      // tfjs' cpu backend banner ("install our node backend") in every test file's output says nothing about peftjs.
      setupFiles: [fileURLToPath(new URL('../packages/core/src/backend/quiet-cpu-backend.ts', import.meta.url))],
    },
  });
}
