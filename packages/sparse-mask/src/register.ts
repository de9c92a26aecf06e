import { declarePackage } from '@peftjs/core';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/sparse-mask',
  methods: ['random-mask', 'mixout', 'magnitude-mask', 'diff-pruning', 'child-tuning', 'fish-mask', 'sam', 'lt-sft'],
});
