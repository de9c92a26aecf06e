import { Linear, PeftError, definePeftMethod, resolveWrappableTargets, type AppliedMethod, type tf } from '@peftjs/core';
import { channelScaleConfigSchema } from './config';
import { ChannelScaleLinear } from './layer';

/**
 * `acme`-style namespaced method: a third party names its methods `<scope>/<name>` so they never
 * clash with the built-in ones.
 */
export const channelScaleMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'example/channel-scale',
  packageName: '@peftjs-example/channel-scale',
  kind: 'additive',
  description: 'A trainable per-output-channel scale on chosen linears; mergeable.',
  configSchema: channelScaleConfigSchema,
  apply(model, config): AppliedMethod {
    const targets = resolveWrappableTargets(model, config.targets, {
      accept: (module) => module instanceof Linear,
      method: 'channel-scale',
      needs: 'Linear module',
      suggest: 'attention.value or ffn.down',
    });
    const layers = targets.map(({ path }) => ({
      path,
      layer: model.replaceModule(path, (current) => new ChannelScaleLinear(current as Linear, config.init)),
    }));
    return {
      name: 'example/channel-scale',
      claims: layers.map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => layers.map(({ layer }) => layer.scale),
      merge: () => layers.forEach(({ layer }) => layer.merge()),
      unmerge: () => layers.forEach(({ layer }) => layer.unmerge()),
      setEnabled: (enabled) => layers.forEach(({ layer }) => (layer.enabled = enabled)),
      state: () => Object.fromEntries(layers.map(({ path, layer }) => [`${path}.scale`, layer.scale.value as tf.Tensor])),
      load(state) {
        const expected = new Set(layers.map(({ path }) => `${path}.scale`));
        const unexpected = Object.keys(state).filter((key) => !expected.has(key));
        const missing = [...expected].filter((key) => !(key in state));
        if (unexpected.length || missing.length) {
          throw new PeftError('checkpoint-mismatch', `channel-scale: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}].`, {
            field: 'state',
            value: Object.keys(state),
            allowed: [...expected],
          });
        }
        for (const { path, layer } of layers) {
          const tensor = state[`${path}.scale`]!;
          if (tensor.shape.length !== 1 || tensor.shape[0] !== layer.outFeatures) {
            throw new PeftError('checkpoint-mismatch', `channel-scale: ${path}.scale has shape [${tensor.shape.join(', ')}], expected [${layer.outFeatures}].`, {
              field: `${path}.scale`,
              value: tensor.shape,
              allowed: `[${layer.outFeatures}]`,
            });
          }
          layer.scale.assign(tensor);
        }
      },
      remove() {
        for (const { path, layer } of layers) {
          if (layer.merged) layer.unmerge();
          model.replaceModule(path, () => layer.base);
          layer.scale.dispose();
        }
      },
    };
  },
});

/** `peft(model, [channelScale({ targets: { roles: ['ffn.down'] } })])` */
export const channelScale = channelScaleMethod;
