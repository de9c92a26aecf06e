import { declarePackage, registerMethod } from '@peftjs/core';
import { adamix } from './adamix/method';
import { compacter } from './compacter/method';
import { houlsby } from './houlsby/method';
import { ia3 } from './ia3/method';
import { parallelAdapter } from './parallel-adapter/method';
import { lst } from './lst/method';
import { pfeiffer } from './pfeiffer/method';
import { scaledParallelAdapter } from './scaled-parallel-adapter/method';
import { sparseAdapter } from './sparse-adapter/method';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/adapters',
  methods: ['houlsby', 'pfeiffer', 'parallel-adapter', 'scaled-parallel-adapter', 'adamix', 'compacter', 'ia3', 'lst', 'sparse-adapter'],
  hfPeftTypes: ['IA3'],
});
for (const method of [houlsby, pfeiffer, parallelAdapter, scaledParallelAdapter, ia3, compacter, sparseAdapter, lst, adamix]) registerMethod(method);
