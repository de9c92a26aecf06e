import { defineConfig } from 'tsup';
import { peftjsTsupPreset } from '../../tooling/tsup.preset';

export default defineConfig([
  peftjsTsupPreset({ index: 'src/index.ts', register: 'src/register.ts' }),
  // The CLI is ESM only (top-level await) and needs no declarations.
  peftjsTsupPreset({ 'cli/bin': 'src/cli/bin.ts', 'runner/pool-worker': 'src/runner/pool-worker.ts' }, { format: ['esm'], dts: false, clean: false }),
]);
