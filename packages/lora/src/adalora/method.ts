import { PeftError, combineApplied, definePeftMethod, fromWrappers, resolveWrappableTargets, tf, type AppliedMethod, type Module, type StepInfo } from '@peftjs/core';
import { hfNameOrUndefined, inTransformedLayers, selectedByHfTargets } from '../lora/hf-format';
import type { LinearLike } from '../lora/layer';
import { attachHfModulesToSave, attachModulesToSave } from '../shared/modules-to-save';
import { wrapTargets, wrappedTargetsMethod } from '../shared/wrapped-targets';
import { budgetAt, pruningThreshold } from './budget';
import { adaloraConfigSchema, type AdaloraConfig } from './config';
import { adaloraHfFormat, exportAdaloraHf, loadAdaloraHf } from './hf-format';
import { AdaLoraLinear } from './layer';
import { orthogonalityPenalty } from './orthogonality';

function isLinearLike(module: Module<any, any>): module is LinearLike {
  const candidate = module as unknown as Partial<LinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}


/** The Linears to wrap: by HF module name when `hfTargetModules` is set (files from HF PEFT), else by selector. */
function selectTargets(model: Module<any, any>, config: AdaloraConfig): string[] {
  const wanted = config.hfTargetModules;
  if (wanted === undefined) {
    const paths = resolveWrappableTargets(model, config.targets, { accept: isLinearLike, method: 'adalora', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
    const kept = paths.filter((path) => inTransformedLayers(config, hfNameOrUndefined(model, path) ?? path));
    if (kept.length === 0) throw new PeftError('selector-no-match', `adalora: layersToTransform ${JSON.stringify(config.layersToTransform)} keeps none of the ${paths.length} targets.`, { field: 'layersToTransform', value: config.layersToTransform });
    return kept;
  }
  const found: string[] = [];
  for (const [path, module] of model.namedModules()) {
    if (path === '' || !isLinearLike(module) || found.some((match) => path.startsWith(`${match}.`))) continue;
    const hfName = hfNameOrUndefined(model, path);
    if (hfName !== undefined && selectedByHfTargets(wanted, config, hfName)) found.push(path);
  }
  if (found.length === 0) {
    throw new PeftError('selector-no-match', `adalora: hfTargetModules ${JSON.stringify(wanted)} matched no linear module's HF name.`, { field: 'hfTargetModules', value: wanted });
  }
  return found;
}

/**
 * AdaLoRA (Zhang et al., "Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning", ICLR
 * 2023) as a peftjs method:
 * - each target Linear gets an SVD-form update A·diag(E)·B (AdaLoraLinear, Eq. 3);
 * - `regularization()` adds orthRegWeight × the mean over all A and B of ‖AᵀA − I‖_F and ‖BBᵀ − I‖_F
 *   (Eq. 4 per matrix, as HF PEFT computes it; `orthNorm: 'squared-frobenius'` squares each norm as
 *   the paper writes it);
 * - `afterStep` updates the smoothed importance of every entry (Eq. 8–9) from the updated weights
 *   and the step's clipped gradients, where HF's update_and_allocate does, then follows the cubic budget schedule (Eq. 14): every deltaT steps it scores each triplet
 *   (Eq. 10–11) and zeroes the E entries of the lowest-scoring ones over all matrices, keeping the
 *   budget; pruned entries are held at zero after every step until a later pruning keeps them. At
 *   step totalSteps − tfinal the target budget is allocated once and that mask is fixed (HF's
 *   rank_pattern).
 *
 * @example
 * const tuned = peft(model, [adalora({ initR: 12, targetR: 4, tinit: 50, tfinal: 100, totalSteps: 1000 })]);
 */
export const adaloraMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'adalora',
  packageName: '@peftjs/lora',
  kind: 'reparametrization',
  description: 'AdaLoRA: SVD-form low-rank updates whose singular values are pruned to a budget by smoothed importance (Zhang et al. 2023); mergeable.',
  configSchema: adaloraConfigSchema,
  hf: adaloraHfFormat,
  apply(model, config, { adapterName }): AppliedMethod {
    const paths = selectTargets(model, config);
    const layers = wrapTargets(model, paths, (current) => new AdaLoraLinear(current as LinearLike, { r: config.initR, alpha: config.alpha, dropout: config.dropout }));
    const copyTargets = config.hfModulesToSave ? attachHfModulesToSave(model, config.hfModulesToSave, 'adalora', adapterName) : attachModulesToSave(model, config.modulesToSave, 'adalora', adapterName);
    const copies = copyTargets.map(({ path, wrapper }) => ({ path, layer: wrapper.forAdapter(adapterName) }));
    const plumbing = combineApplied('adalora', [wrappedTargetsMethod('adalora', model, layers), fromWrappers('adalora', model, copyTargets, adapterName)]);
    for (const { path, layer } of layers) {
      const hfName = config.rankPattern ? hfNameOrUndefined(model, path) : undefined;
      const pattern = hfName === undefined ? undefined : (config.rankPattern?.[`${hfName}.lora_E`] ?? config.rankPattern?.[hfName]);
      if (pattern && pattern.length === layer.r) layer.maskRanks(pattern);
    }
    /** The schedule length once known (config or trainer), for the HF export's total_step. */
    let knownTotalSteps = config.totalSteps;
    /** Set at step totalSteps − tfinal: the target allocation, fixed from then on. */
    let finalized = false;
    let stateTensors: tf.Tensor[] = [];

    const scheduleAt = (step: number, totalSteps: number) =>
      budgetAt(step, { initialBudget: config.initR * layers.length, targetBudget: config.targetR * layers.length, tinit: config.tinit, tfinal: config.tfinal, totalSteps, deltaT: config.deltaT });
    const maskToBudget = (budget: number): void => {
      const scores = layers.map(({ layer }) => Array.from(layer.tripletScores()));
      const threshold = pruningThreshold(scores.flat(), budget);
      layers.forEach(({ layer }, i) => layer.maskRanks(scores[i]!.map((score) => score > threshold)));
    };
    const isImportanceKey = (key: string) => key.includes('.importance.');
    const isMaskKey = (key: string) => key.endsWith('.rankMask') || key === 'adalora.finalized';

    return {
      ...plumbing,
      regularization: () => orthogonalityPenalty(layers.map(({ layer }) => layer), config.orthRegWeight, config.orthNorm),
      afterStep(info: StepInfo) {
        const totalSteps = config.totalSteps ?? info.totalSteps;
        if (totalSteps - config.tfinal <= config.tinit) {
          throw new PeftError('invalid-config', `adalora: tinit (${config.tinit}) + tfinal (${config.tfinal}) leave no pruning phase in ${totalSteps} steps.`, {
            field: 'adalora.tfinal',
            value: config.tfinal,
            allowed: `tinit + tfinal < ${totalSteps}`,
          });
        }
        knownTotalSteps = totalSteps;
        // Importance where HF's update_and_allocate computes it: after the optimizer step, from the
        // updated weights and the step's gradients after clipping, and only before totalSteps − tfinal.
        if (!finalized && info.step < totalSteps - config.tfinal) layers.forEach(({ layer }) => layer.updateImportance(info.gradients, config.beta1, config.beta2));
        if (!finalized && info.step >= totalSteps - config.tfinal) {
          maskToBudget(config.targetR * layers.length);
          finalized = true;
        } else if (!finalized && scheduleAt(info.step, totalSteps).mask) {
          maskToBudget(scheduleAt(info.step, totalSteps).budget);
        } else layers.forEach(({ layer }) => layer.reapplyMask());
      },
      state() {
        tf.dispose(stateTensors);
        stateTensors = [...layers.map(({ layer }) => tf.tensor1d(layer.rankMask.map(Number))), tf.scalar(finalized ? 1 : 0)];
        return {
          ...plumbing.state(),
          ...(Object.assign({}, ...layers.map(({ path, layer }) => layer.importanceState(path))) as Record<string, tf.Tensor>),
          ...Object.fromEntries(layers.map(({ path }, i) => [`${path}.rankMask`, stateTensors[i]!])),
          'adalora.finalized': stateTensors[layers.length]!,
        };
      },
      load(state) {
        plumbing.load(Object.fromEntries(Object.entries(state).filter(([key]) => !isImportanceKey(key) && !isMaskKey(key))));
        for (const { path, layer } of layers) {
          layer.loadImportance(path, state);
          const mask = state[`${path}.rankMask`];
          if (mask) layer.maskRanks(Array.from(mask.dataSync()).map((value) => value === 1));
        }
        finalized = state['adalora.finalized']?.dataSync()[0] === 1;
      },
      exportHf: () => exportAdaloraHf(model, config, layers, knownTotalSteps, copies),
      loadHf: (tensors) => loadAdaloraHf(model, config, layers, tensors, copies),
      remove() {
        tf.dispose(stateTensors);
        stateTensors = [];
        for (const { path, layer } of layers) layer.loadImportance(path, {});
        plumbing.remove?.();
      },
    };
  },
});

/** `peft(model, [adalora({ initR: 12, targetR: 4 })])` */
export const adalora = adaloraMethod;
