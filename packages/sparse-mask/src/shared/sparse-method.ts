import {
  combineApplied,
  fromSelection,
  resolveTargets,
  type AppliedMethod,
  type ApplyContext,
  type CalibrationContext,
  type Module,
  type ParameterTarget,
  type StepInfo,
  type TargetSelector,
  type tf,
} from '@peftjs/core';
import { entriesAtDensity, topKIndices } from '../sparse-delta/select';
import { SparseDelta, type SparseDeltaTarget } from '../sparse-delta/sparse-delta';

/** What the sparse methods' applied form adds: the delta and its entry counts. */
export interface SparseAppliedMethod extends AppliedMethod {
  readonly delta: SparseDelta;
  /** k, the entries of the sparse delta (the head apart). */
  readonly entries: number;
}

/** The parts of a config every sparse method reads. */
export interface SparseTargetsConfig {
  targets: TargetSelector;
  modulesToSave: TargetSelector | null;
  seed: number;
}

/** The target tensors (outside modulesToSave) and the whole-tensor selection of modulesToSave. */
export function resolveSparseTargets(model: Module<any, any>, config: SparseTargetsConfig, method: string): { targets: ParameterTarget[]; saved: ParameterTarget[] } {
  const saved = config.modulesToSave ? resolveTargets(model, config.modulesToSave, { kind: 'parameter', field: `${method}.modulesToSave`, allowEmpty: true }).filter(({ parameter }) => !parameter.trainable) : [];
  const savedSet = new Set(saved.map(({ parameter }) => parameter));
  const targets = resolveTargets(model, config.targets, { kind: 'parameter', field: `${method}.targets` }).filter(({ parameter }) => !savedSet.has(parameter));
  return { targets, saved };
}

/** k for a density: ⌊N·p⌋ over all targets, or Σ ⌊size·p⌋ per tensor. */
export function budgetOf(targets: readonly SparseDeltaTarget[], density: number, allocation: 'global' | 'per-tensor'): number {
  if (allocation === 'global') return entriesAtDensity(targets.reduce((n, { parameter }) => n + parameter.size, 0), density);
  return targets.reduce((n, { parameter }) => n + Math.floor(parameter.size * density), 0) || 1;
}

/** The top-k entries by score, globally or ⌊size·p⌋ per tensor, as global indices. */
export function topByScore(scores: readonly Float32Array[], k: number, allocation: 'global' | 'per-tensor', density: number): Int32Array {
  if (allocation === 'global') return topKIndices(scores, k);
  const chosen: number[] = [];
  let offset = 0;
  for (const score of scores) {
    const local = topKIndices([score], Math.floor(score.length * density));
    for (const index of local) chosen.push(index + offset);
    offset += score.length;
  }
  if (chosen.length < k) chosen.push(...topKIndices(scores, k).filter((index) => !chosen.includes(index)).slice(0, k - chosen.length));
  return Int32Array.from(chosen);
}

export interface SparseMethodOptions {
  name: string;
  model: Module<any, any>;
  context: ApplyContext;
  targets: readonly ParameterTarget[];
  saved: readonly ParameterTarget[];
  /** The k indices the delta starts with (before any calibration). */
  initialIndices: Int32Array;
  /** Chooses the indices from calibration data (δ is reset to 0 afterwards). Runs with the deltas off. */
  select?: (calibration: CalibrationContext, delta: SparseDelta) => Int32Array;
  regularization?: () => tf.Scalar;
  afterStep?: (info: StepInfo) => void;
}

/**
 * A sparse delta over the targets plus the modulesToSave trained in full (core's fromSelection):
 * trainable = k + head entries; merge writes the k deltas exactly; state is `indices` + `values`
 * (8·k bytes) plus the head tensors.
 */
export function sparseMethod(options: SparseMethodOptions): SparseAppliedMethod {
  const { name, model, targets } = options;
  const stem = `${name.replace(/[^A-Za-z0-9]/g, '_')}_${options.context.adapterName}`;
  let holderName = stem;
  // A second sparse method of the same name in one adapter (two LT-SFT deltas composed) gets its own holder.
  for (let n = 2; model.maybeChild(holderName); n++) holderName = `${stem}_${n}`;
  const delta = new SparseDelta({ model, holderName, targets, indices: options.initialIndices, method: name });
  const part: AppliedMethod = {
    name,
    claims: [...targets.map(({ path }) => ({ kind: 'train' as const, path })), { kind: 'slot' as const, path: holderName }],
    parameters: () => [delta.values],
    merge: () => delta.merge(),
    unmerge: () => delta.unmerge(),
    setEnabled: (enabled) => delta.setEnabled(enabled),
    state: () => delta.state(),
    load: (state) => delta.load(state, name),
    remove: () => delta.remove(model),
    ...(options.select
      ? {
          calibrate(calibration: CalibrationContext) {
            const indices = delta.withoutDeltas(() => options.select!(calibration, delta));
            delta.setIndices(indices);
          },
        }
      : {}),
    ...(options.regularization ? { regularization: options.regularization } : {}),
    ...(options.afterStep ? { afterStep: options.afterStep } : {}),
  };
  const parts = [part];
  if (options.saved.length > 0) parts.push(fromSelection({ name, model, subset: options.saved.map(({ path, parameter }) => ({ path, parameter })), trainHead: false, mergeable: true }));
  const applied = parts.length === 1 ? part : combineApplied(name, parts);
  return Object.assign(applied, { delta, entries: delta.size });
}
