import { declarePackage, registerMethod } from '@peftjs/core';
import { adaptivePrefixTuning } from './adaptive-prefix-tuning/method';
import { ipt } from './ipt/method';
import { pTuning } from './p-tuning/method';
import { pTuningV2 } from './p-tuning-v2/method';
import { prefixTuning } from './prefix-tuning/method';
import { promptTuning } from './prompt-tuning/method';
import { spot } from './spot/method';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({
  packageName: '@peftjs/prompts',
  methods: ['prompt-tuning', 'prefix-tuning', 'p-tuning', 'p-tuning-v2', 'adaptive-prefix-tuning', 'spot', 'ipt'],
  hfPeftTypes: ['PROMPT_TUNING', 'PREFIX_TUNING', 'P_TUNING'],
});
registerMethod(promptTuning);
registerMethod(prefixTuning);
registerMethod(pTuningV2);
registerMethod(pTuning);
registerMethod(adaptivePrefixTuning);
registerMethod(spot);
registerMethod(ipt);
