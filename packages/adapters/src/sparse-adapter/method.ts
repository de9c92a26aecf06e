import { SeedStream, combineApplied, definePeftMethod, requireModelInfo, tf, checkStateKeys, type AppliedMethod, type CalibrationContext, type Parameter } from '@peftjs/core';
import { applySublayerAdapters, chosenLayers } from '../shared/apply-sublayer-adapters';
import { bottleneckWidth } from '../shared/bottleneck';
import { sparseAdapterConfigSchema, type SparseAdapterConfig } from './config';
import { PRUNED_WEIGHTS, SparseSublayerAdapter, topEntriesMask, type PrunedWeight } from './layer';

/** The applied form: adapters plus their masks, and how many entries stay trainable. */
export interface SparseAdapterApplied extends AppliedMethod {
  /** Trainable entries: unpruned projection entries plus biases (and any modules to save); `tensorEntries` counts whole tensors. */
  summary(): { unprunedEntries: number; prunedEntries: number; tensorEntries: number };
}

interface PrunedSite {
  path: string;
  wrapper: SparseSublayerAdapter;
}

/**
 * Masks keeping the (1 − sparsity) share of each projection matrix with the highest scores
 * (layer-wise: each matrix keeps the same share). `scoresOf` gives a score per entry.
 */
function pruneAll(sites: readonly PrunedSite[], adapterName: string, sparsity: number, scoresOf: (site: PrunedSite, weight: PrunedWeight, index: number) => Float32Array): void {
  sites.forEach((site, siteIndex) => {
    PRUNED_WEIGHTS.forEach((weight, weightIndex) => {
      const mask = site.wrapper.maskOf(adapterName, weight);
      const keep = Math.round((1 - sparsity) * mask.size);
      const values = topEntriesMask(scoresOf(site, weight, 2 * siteIndex + weightIndex), keep);
      const tensor = tf.tensor(values, mask.shape);
      site.wrapper.setMask(adapterName, weight, tensor);
      tensor.dispose();
    });
  });
}

/**
 * SparseAdapter (He et al. 2022, §2.2, Eq. 1–2; survey "Scaling Down to Scale Up" §10.1): adapters
 * pruned once at init to a target sparsity by a SNIP, magnitude or random criterion; the masks stay
 * fixed, gradients of pruned entries are zeroed and the entries kept at zero.
 */
export const sparseAdapter = definePeftMethod({
  specificationVersion: 'v1',
  name: 'sparse-adapter',
  packageName: '@peftjs/adapters',
  kind: 'hybrid',
  description: 'Bottleneck adapters pruned at init (SNIP / magnitude / random) to a target sparsity, masks fixed (He et al., 2022).',
  configSchema: sparseAdapterConfigSchema,
  apply(model, config: SparseAdapterConfig, context): SparseAdapterApplied {
    const info = requireModelInfo(context, 'sparse-adapter');
    const width = bottleneckWidth(info.hiddenSize, config);
    const sites = chosenLayers(info, config.layers ?? config.targets?.layers, 'sparse-adapter').flatMap((layer) =>
      [...new Set(config.sublayers)].map((sublayer) => ({
        path: info.paths[sublayer][layer]!,
        options: { placement: config.placement, width, activation: config.nonLinearity, scaling: config.scaling },
      })),
    );
    const { applied, wrappers } = applySublayerAdapters(model, context, 'sparse-adapter', sites, {
      modulesToSave: config.modulesToSave,
      wrapperType: SparseSublayerAdapter,
      create: (base, hiddenSize) => new SparseSublayerAdapter(base, hiddenSize),
    });
    const { adapterName } = context;
    const pruned: PrunedSite[] = sites.map((site, i) => ({ path: site.path, wrapper: wrappers[i]! }));
    const weightOf = (site: PrunedSite, weight: PrunedWeight): Parameter => site.wrapper.adapter(adapterName).parameters.get(weight);
    const randomScores = (site: PrunedSite, weight: PrunedWeight, index: number) => {
      const random = new SeedStream(config.seed * 7919 + index + 1);
      return Float32Array.from({ length: weightOf(site, weight).size }, () => random.next());
    };
    // The up projection starts at zero, so |w| says nothing there: it gets the random scores (magnitude) until SNIP's gradients exist.
    const magnitudeScores = (site: PrunedSite, weight: PrunedWeight, index: number) =>
      weight === 'adapterUp' ? randomScores(site, weight, index) : tf.tidy(() => tf.abs(weightOf(site, weight).value).dataSync() as Float32Array);
    pruneAll(pruned, adapterName, config.sparsity, config.criterion === 'random' ? randomScores : magnitudeScores);

    const byParameter = new Map<Parameter, { site: PrunedSite; weight: PrunedWeight }>();
    for (const site of pruned) for (const weight of PRUNED_WEIGHTS) byParameter.set(weightOf(site, weight), { site, weight });
    const maskKey = (site: PrunedSite, weight: PrunedWeight) => `${site.path}.masks.${weight}`;

    const masks: AppliedMethod = {
      name: 'sparse-adapter',
      claims: [],
      parameters: () => [],
      setEnabled: () => undefined,
      remove: () => undefined,
      state: () => Object.fromEntries(pruned.flatMap((site) => PRUNED_WEIGHTS.map((weight) => [maskKey(site, weight), site.wrapper.maskOf(adapterName, weight).value]))),
      load(state) {
        checkStateKeys('sparse-adapter', new Map(pruned.flatMap((site) => PRUNED_WEIGHTS.map((weight) => [maskKey(site, weight), site.wrapper.maskOf(adapterName, weight).shape] as const))), state);
        for (const site of pruned) for (const weight of PRUNED_WEIGHTS) site.wrapper.setMask(adapterName, weight, state[maskKey(site, weight)]!);
      },
      // The mask is fixed: pruned entries get no update (forward already gives them zero gradient; this also covers optimizers' weight decay paths).
      transformGradients(gradients) {
        const next = new Map(gradients);
        for (const [parameter, gradient] of gradients) {
          const owner = byParameter.get(parameter);
          if (owner) next.set(parameter, tf.mul(gradient, owner.site.wrapper.maskOf(adapterName, owner.weight).value));
        }
        return next;
      },
      afterStep: () => pruned.forEach((site) => site.wrapper.zeroPruned(adapterName)),
    };
    if (config.criterion === 'snip') {
      /** SNIP (Lee et al. 2019, Eq. 3): |w ⊙ ∂L/∂w| summed over the calibration batches; |∂L/∂w| for the zero-initialised up projection. Weights are unmasked first, so every entry is scored. */
      masks.calibrate = (calibration: CalibrationContext) => {
        for (const site of pruned) for (const weight of PRUNED_WEIGHTS) site.wrapper.maskOf(adapterName, weight).assign(tf.onesLike(site.wrapper.maskOf(adapterName, weight).value));
        const parameters = [...byParameter.keys()];
        const totals = parameters.map((parameter) => tf.zeros(parameter.shape));
        for (const batch of calibration.batches) {
          const { value, grads } = tf.variableGrads(() => calibration.loss(batch), parameters.map((parameter) => parameter.variable));
          parameters.forEach((parameter, i) => {
            const gradient = grads[parameter.variable.name]!;
            const score = tf.tidy(() => (byParameter.get(parameter)!.weight === 'adapterUp' ? tf.abs(gradient) : tf.abs(tf.mul(gradient, parameter.value))));
            const next = tf.add(totals[i]!, score);
            tf.dispose([totals[i]!, score]);
            totals[i] = next;
          });
          tf.dispose([value, ...Object.values(grads)]);
        }
        const scoreOf = new Map(parameters.map((parameter, i) => [parameter, totals[i]!.dataSync() as Float32Array]));
        tf.dispose(totals);
        pruneAll(pruned, adapterName, config.sparsity, (site, weight) => scoreOf.get(weightOf(site, weight))!);
      };
    }
    const combined = combineApplied('sparse-adapter', [applied, masks]);
    return {
      ...combined,
      summary() {
        const tensorEntries = combined.parameters().reduce((count, parameter) => count + parameter.size, 0);
        const projectionEntries = pruned.reduce((count, site) => count + PRUNED_WEIGHTS.reduce((n, weight) => n + weightOf(site, weight).size, 0), 0);
        const kept = pruned.reduce((count, site) => count + site.wrapper.keptEntries(adapterName), 0);
        return { unprunedEntries: tensorEntries - projectionEntries + kept, prunedEntries: projectionEntries - kept, tensorEntries };
      },
    };
  },
});
