import { declarePackage, registerMethod } from '@peftjs/core';
import { adaloraMethod } from './adalora/method';
import { gloraMethod } from './glora/method';
import { intrinsicSaidMethod } from './intrinsic-said/method';
import { kronaMethod } from './krona/method';
import { kronaResMethod } from './krona/parallel-method';
import { loraMethod } from './lora/method';

/** Registers this family's methods into the default registry of @peftjs/core. */
declarePackage({ packageName: '@peftjs/lora', methods: ['lora', 'krona', 'glora', 'krona-res', 'intrinsic-said', 'adalora'], hfPeftTypes: ['LORA', 'ADALORA'] });
registerMethod(loraMethod);
registerMethod(kronaMethod);
registerMethod(gloraMethod);
registerMethod(kronaResMethod);
registerMethod(intrinsicSaidMethod);
registerMethod(adaloraMethod);
