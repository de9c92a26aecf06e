import { declarePackage } from '@peftjs/core';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/adapters',
  methods: ['houlsby', 'pfeiffer', 'parallel-adapter', 'scaled-parallel-adapter', 'adamix', 'compacter', 'ia3', 'lst', 'sparse-adapter'],
  hfPeftTypes: ['IA3'],
});
