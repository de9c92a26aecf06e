import { declarePackage } from '@peftjs/core';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/prompts',
  methods: ['prompt-tuning', 'prefix-tuning', 'p-tuning', 'p-tuning-v2', 'adaptive-prefix-tuning', 'spot', 'ipt'],
  hfPeftTypes: ['PROMPT_TUNING', 'PREFIX_TUNING', 'P_TUNING'],
});
