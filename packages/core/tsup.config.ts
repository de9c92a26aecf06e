import { defineConfig } from 'tsup';
import { peftjsTsupPreset } from '../../tooling/tsup.preset';

export default defineConfig(
  peftjsTsupPreset(
    { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts', 'testing/crash-resume-child': 'src/testing/crash-resume-child.ts' },
    // The crash-resume check finds its child script next to itself through import.meta.url, in the CJS build too.
    { shims: true },
  ),
);
