import { PeftError, definePeftMethod, resolveWrappableTargets, tf, type AppliedMethod, type Module, type StepInfo } from '@peftjs/core';
import type { LinearLike } from '../lora/layer';
import { wrapModulesToSave } from '../shared/modules-to-save';
import { wrapTargets, wrappedTargetsMethod } from '../shared/wrapped-targets';
import { budgetAt, pruningThreshold } from './budget';
import { adaloraConfigSchema } from './config';
import { AdaLoraLinear } from './layer';

function isLinearLike(module: Module<any, any>): module is LinearLike {
  const candidate = module as unknown as Partial<LinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}

/** ‖XᵀX − I‖²_F for X [n, r] (columns orthonormal at 0). */
function orthogonalityGap(x: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.square(tf.sub(tf.matMul(x, x, true, false), tf.eye(x.shape[1])))));
}

/**
 * AdaLoRA (Zhang et al., "Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning", ICLR
 * 2023) as a peftjs method:
 * - each target Linear gets an SVD-form update A·diag(E)·B (AdaLoraLinear, Eq. 3);
 * - `regularization()` adds orthRegWeight × the mean over all A and B of ‖AᵀA − I‖²_F and ‖BBᵀ − I‖²_F
 *   (Eq. 4; HF PEFT uses the unsquared norm);
 * - `afterStep` updates the smoothed importance of every entry from the step's gradients (Eq. 7–9),
 *   scores each triplet (Eq. 10–11) and, on the cubic budget schedule (Eq. 14), zeroes the E entries
 *   of the lowest-scoring triplets over all matrices, keeping the budget; in the last tfinal steps
 *   the final mask is fixed and reapplied (HF's rank pattern).
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
  apply(model, config): AppliedMethod {
    const paths = resolveWrappableTargets(model, config.targets, { accept: isLinearLike, method: 'adalora', needs: 'Linear module', suggest: 'attention.query or all-linear' }).map(({ path }) => path);
    const layers = wrapTargets(model, paths, (current) => new AdaLoraLinear(current as LinearLike, { r: config.initR, alpha: config.alpha, dropout: config.dropout }));
    const copies = wrapModulesToSave(model, config.modulesToSave, 'adalora');
    const plumbing = wrappedTargetsMethod('adalora', model, [...layers, ...copies]);
    let finalMask: boolean[][] | undefined;

    const scheduleAt = (step: number, totalSteps: number) =>
      budgetAt(step, { initialBudget: config.initR * layers.length, targetBudget: config.targetR * layers.length, tinit: config.tinit, tfinal: config.tfinal, totalSteps, deltaT: config.deltaT });
    const maskToBudget = (budget: number): boolean[][] => {
      const scores = layers.map(({ layer }) => Array.from(layer.tripletScores()));
      const threshold = pruningThreshold(scores.flat(), budget);
      const keep = scores.map((row) => row.map((score) => score > threshold));
      layers.forEach(({ layer }, i) => layer.maskRanks(keep[i]!));
      return keep;
    };
    const importanceKeys = () => Object.assign({}, ...layers.map(({ path, layer }) => layer.importanceState(path))) as Record<string, tf.Tensor>;

    return {
      ...plumbing,
      regularization() {
        return tf.tidy(() => {
          const gaps = layers.flatMap(({ layer }) => [orthogonalityGap(layer.loraA.value as tf.Tensor2D), orthogonalityGap(tf.transpose(layer.loraB.value) as tf.Tensor2D)]);
          return tf.mul(tf.div(tf.addN(gaps), gaps.length), config.orthRegWeight) as tf.Scalar;
        });
      },
      afterStep(info: StepInfo) {
        const totalSteps = config.totalSteps ?? info.totalSteps;
        if (totalSteps - config.tfinal <= config.tinit) {
          throw new PeftError('invalid-config', `adalora: tinit (${config.tinit}) + tfinal (${config.tfinal}) leave no pruning phase in ${totalSteps} steps.`, {
            field: 'adalora.tfinal',
            value: config.tfinal,
            allowed: `tinit + tfinal < ${totalSteps}`,
          });
        }
        if (info.step < totalSteps - config.tfinal) layers.forEach(({ layer }) => layer.updateImportance(info.gradients, config.beta1, config.beta2));
        const point = scheduleAt(info.step, totalSteps);
        if (point.final) {
          finalMask ??= maskToBudget(point.budget);
          layers.forEach(({ layer }, i) => layer.maskRanks(finalMask![i]!));
        } else if (point.mask) maskToBudget(point.budget);
      },
      state: () => ({
        ...plumbing.state(),
        ...importanceKeys(),
        ...(finalMask ? { finalMask: tf.tensor2d(finalMask.map((row) => row.map(Number)), [layers.length, config.initR]) } : {}),
      }),
      load(state) {
        const importance = Object.keys(state).filter((key) => key.includes('.importance.'));
        plumbing.load(Object.fromEntries(Object.entries(state).filter(([key]) => key !== 'finalMask' && !importance.includes(key))));
        for (const { path, layer } of layers) layer.loadImportance(path, state);
        finalMask = state.finalMask ? (state.finalMask.arraySync() as number[][]).map((row) => row.map((value) => value === 1)) : undefined;
      },
    };
  },
});

/** `peft(model, [adalora({ initR: 12, targetR: 4 })])` */
export const adalora = adaloraMethod;
