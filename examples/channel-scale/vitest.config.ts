import { peftjsVitestConfig } from '../../tooling/vitest.shared';

export default peftjsVitestConfig('example-channel-scale');
