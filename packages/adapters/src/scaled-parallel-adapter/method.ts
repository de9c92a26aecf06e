import { definePeftMethod } from '@peftjs/core';
import { applyParallelAdapters } from '../parallel-adapter/method';
import { scaledParallelAdapterConfigSchema } from './config';

/** f(x) ← f(x) + 4·A(x) beside the FFN (He et al. §4.4; MAM's adapter half). */
export const scaledParallelAdapter = definePeftMethod({
  specificationVersion: 'v1',
  name: 'scaled-parallel-adapter',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: 'Parallel FFN adapter with output scale s = 4, MAM adapter\'s adapter half (He et al., 2022).',
  configSchema: scaledParallelAdapterConfigSchema,
  apply: (model, config, context) => applyParallelAdapters(model, config, context, 'scaled-parallel-adapter'),
});
