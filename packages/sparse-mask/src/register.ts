import { declarePackage, registerMethod } from '@peftjs/core';
import { randomMaskMethod } from './random-mask/method';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/sparse-mask',
  methods: ['random-mask', 'mixout', 'magnitude-mask', 'diff-pruning', 'child-tuning', 'fish-mask', 'sam', 'lt-sft'],
});
registerMethod(randomMaskMethod);
