import type { ApplyContext, CalibrationContext, Module } from '@peftjs/core';
import { randomIndices } from '../sparse-delta/select';
import { accumulatedSquaredGradients } from './calibration';
import { budgetOf, resolveSparseTargets, sparseMethod, topByScore, type SparseAppliedMethod, type SparseTargetsConfig } from './sparse-method';

/** The config a squared-gradient method reads. */
export interface SquaredGradientConfig extends SparseTargetsConfig {
  density: number;
  allocation: 'global' | 'per-tensor';
  maxExamples?: number;
}

/**
 * A sparse delta whose k entries are the top-k of Σ (∂L/∂θ_i)² over the calibration data, per
 * batch (SAM) or per example (FishMask, ChildTuning-D). Until `calibrate` runs (a model built
 * without the trainer) the k entries are drawn at random under the seed, so the method is usable
 * and saveable; the file records whichever indices were chosen.
 */
export function squaredGradientMethod(name: string, model: Module<any, any>, config: SquaredGradientConfig, context: ApplyContext, unit: 'batch' | 'example'): SparseAppliedMethod {
  const { targets, saved } = resolveSparseTargets(model, config, name);
  const k = budgetOf(targets, config.density, config.allocation);
  const total = targets.reduce((n, { parameter }) => n + parameter.size, 0);
  return sparseMethod({
    name,
    model,
    context,
    targets,
    saved,
    initialIndices: randomIndices(total, k, config.seed),
    select: (calibration: CalibrationContext) => {
      const scores = accumulatedSquaredGradients(
        calibration,
        targets.map(({ parameter }) => parameter),
        { unit, ...(config.maxExamples !== undefined ? { maxExamples: config.maxExamples } : {}) },
      );
      return topByScore(scores, k, config.allocation, config.density);
    },
  });
}
