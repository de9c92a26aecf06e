import { registerMethod } from '@peftjs/core';
import { channelScaleMethod } from './method';

registerMethod(channelScaleMethod);
