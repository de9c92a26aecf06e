import { defineConfig } from 'tsup';
import { peftjsTsupPreset } from '../../tooling/tsup.preset';

export default defineConfig(peftjsTsupPreset({ index: 'src/index.ts', register: 'src/register.ts' }));
