import { Linear, attachAdapters, definePeftMethod, fromWrappers, resolveWrappableTargets } from '@peftjs/core';
import { channelScaleConfigSchema } from './config';
import { ChannelScaleLinear } from './layer';

/** A third party names its methods `<scope>/<name>` so they never clash with the built-in ones. */
export const channelScaleMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'example/channel-scale',
  packageName: '@peftjs-example/channel-scale',
  kind: 'additive',
  description: 'A trainable per-output-channel scale on chosen linears; mergeable.',
  configSchema: channelScaleConfigSchema,
  apply(model, config, { adapterName }) {
    const accept = (module: unknown) => module instanceof Linear || module instanceof ChannelScaleLinear;
    const paths = resolveWrappableTargets(model, config.targets, { accept, method: 'channel-scale', needs: 'Linear module', suggest: 'attention.value or ffn.down' }).map((target) => target.path);
    const create = (base: Linear) => new ChannelScaleLinear(base);
    const targets = attachAdapters(model, paths, { adapterName, methodName: 'example/channel-scale', wrapperType: ChannelScaleLinear, create, options: () => ({ init: config.init }) });
    return fromWrappers('example/channel-scale', model, targets, adapterName);
  },
});

/** `peft(model, [channelScale({ targets: { roles: ['ffn.down'] } })])` */
export const channelScale = channelScaleMethod;
