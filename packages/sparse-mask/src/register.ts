import { declarePackage, registerMethod } from '@peftjs/core';
import { childTuningMethod } from './child-tuning/method';
import { diffPruningMethod } from './diff-pruning/method';
import { fishMaskMethod } from './fish-mask/method';
import { magnitudeMaskMethod } from './magnitude-mask/method';
import { randomMaskMethod } from './random-mask/method';
import { ltSftMethod } from './lt-sft/method';
import { mixoutMethod } from './mixout/method';
import { samMethod } from './sam/method';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/sparse-mask',
  methods: ['random-mask', 'mixout', 'magnitude-mask', 'diff-pruning', 'child-tuning', 'fish-mask', 'sam', 'lt-sft'],
});
for (const method of [randomMaskMethod, magnitudeMaskMethod, samMethod, fishMaskMethod, childTuningMethod, ltSftMethod, mixoutMethod, diffPruningMethod]) registerMethod(method);
