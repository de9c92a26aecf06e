import { peftjsVitestConfig } from '../../tooling/vitest.shared';

export default peftjsVitestConfig('sparse-mask');
