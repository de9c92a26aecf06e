import { declarePackage, registerMethod } from '@peftjs/core';
import { bitFitMethod } from './bitfit/method';
import { diffFitMethod } from './difffit/method';
import { farMethod } from './far/method';
import { layerSelectionMethod } from './layer-selection/method';
import { lnTuningMethod } from './ln-tuning/method';
import { tokenSftMethod } from './token-sft/method';

declarePackage({ packageName: '@peftjs/selective', methods: ['bitfit', 'ln-tuning', 'layer-selection', 'token-sft', 'difffit', 'far'], hfPeftTypes: ['LN_TUNING'] });
registerMethod(bitFitMethod);
registerMethod(lnTuningMethod);
registerMethod(layerSelectionMethod);
registerMethod(tokenSftMethod);
registerMethod(diffFitMethod);
registerMethod(farMethod);
