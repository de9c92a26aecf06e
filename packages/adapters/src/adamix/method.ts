import { definePeftMethod, requireModelInfo, tf, type AppliedMethod } from '@peftjs/core';
import { applySublayerAdapters, chosenLayers } from '../shared/apply-sublayer-adapters';
import { bottleneckWidth } from '../shared/bottleneck';
import { adamixConfigSchema } from './config';
import { AdamixAdapter, type AdamixOptions } from './layer';

/**
 * AdaMix: mixture-of-adapters after each chosen sublayer, stochastic routing in training, averaged
 * experts at inference, and a consistency regularizer between two routes (`regularization`,
 * Wang et al. 2022 §2.2, Eq. 3 in layer-local form). Not mergeable.
 */
export const adamix = definePeftMethod({
  specificationVersion: 'v1',
  name: 'adamix',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: 'Mixture of adapter experts: random routing in training, weight averaging at inference, consistency regularizer (Wang et al., 2022).',
  configSchema: adamixConfigSchema,
  apply(model, config, context): AppliedMethod {
    const info = requireModelInfo(context, 'adamix');
    const width = bottleneckWidth(info.hiddenSize, config);
    const paths = chosenLayers(info, config.layers ?? config.targets?.layers, 'adamix').flatMap((layer) => [...new Set(config.sublayers)].map((sublayer) => info.paths[sublayer][layer]!));
    const sites = paths.map((path, index) => ({
      path,
      options: { placement: 'sequential', width, activation: config.nonLinearity, scaling: 1, experts: config.experts, routingSeed: config.seed * 7919 + index + 1, consistency: config.consistencyWeight > 0 } satisfies AdamixOptions,
    }));
    const { applied, wrappers } = applySublayerAdapters(model, context, 'adamix', sites, {
      modulesToSave: config.modulesToSave,
      wrapperType: AdamixAdapter,
      create: (base, hiddenSize) => new AdamixAdapter(base, hiddenSize),
    });
    const { adapterName } = context;
    return {
      ...applied,
      regularization: () =>
        tf.tidy(() => {
          const terms = wrappers.flatMap((wrapper) => (wrapper.hasAdapter(adapterName) ? [wrapper.consistencyTerm(adapterName)] : [])).filter((term): term is tf.Scalar => term !== undefined);
          if (terms.length === 0 || config.consistencyWeight === 0) return tf.scalar(0);
          return tf.mul(tf.addN(terms), config.consistencyWeight / terms.length) as tf.Scalar;
        }),
      afterStep: (info) => {
        applied.afterStep?.(info);
        wrappers.forEach((wrapper) => wrapper.hasAdapter(adapterName) && wrapper.clearConsistency(adapterName));
      },
    };
  },
});
