import { Module, Parameter, PeftError, SeedStream, definePeftMethod, fromSelection, tf, type AppliedMethod } from '@peftjs/core';
import { randomIndices } from '../sparse-delta/select';
import { budgetOf, resolveSparseTargets, sparseMethod, topByScore, type SparseAppliedMethod } from '../shared/sparse-method';
import { diffPruningConfigSchema } from './config';
import { hardConcreteMask, nonZeroProbability, type HardConcrete } from './hard-concrete';

/** Holds the dense phase's diff vectors w and mask logits log α (attached to the model; no layer calls it). */
class DenseDiff extends Module<[], never> {
  constructor(shapes: readonly number[][], alphaInit: number, groups: boolean) {
    super();
    shapes.forEach((shape, i) => {
      this.registerParameter(`diff_${i}`, new Parameter(tf.zeros(shape), { kind: 'diff' }));
      this.registerParameter(`log_alpha_${i}`, new Parameter(tf.fill(shape, alphaInit), { kind: 'log_alpha' }));
    });
    if (groups) this.registerParameter('group_log_alpha', new Parameter(tf.fill([shapes.length], alphaInit), { kind: 'log_alpha' }));
  }

  forward(): never {
    throw new PeftError('invalid-argument', 'The DiffPruning parameter holder is not a layer.', { field: 'forward' });
  }
}

/** DiffPruning's applied form: the sparse delta it ends as, and the projection. */
export interface DiffPruningAppliedMethod extends AppliedMethod {
  readonly delta: SparseAppliedMethod['delta'];
  readonly entries: number;
  /** Whether the magnitude projection has run (the method is then a sparse delta). */
  isProjected(): boolean;
  /** Projects the dense diff z̄ ⊙ w onto its k largest-magnitude entries (Guo et al. §3.3). */
  project(): void;
}

/**
 * DiffPruning (Guo, Rush and Kim, "Parameter-Efficient Transfer Learning with Diff Pruning", §3;
 * the survey "Scaling Down to Scale Up", §8.2): θ = θ0 + δ with δ = z ⊙ w, z a hard-concrete
 * relaxation of a binary mask (§3.1), trained with the task loss plus λ·E[‖δ‖0] = λ·Σ_i
 * σ(log α_i − β·log(−l/r)) (through `regularization`). The structured variant (§3.2,
 * `groupPenalty`) multiplies each tensor's mask by a group mask z_g and the expected L0 by
 * P(z_g ≠ 0). After training, magnitude projection (§3.3) keeps the k = ⌊N·p⌋ entries of largest
 * |z̄ ⊙ w| (z̄ the deterministic mask) as a sparse delta; a second trainer run then fine-tunes
 * that fixed mask, as Guo et al. do.
 *
 * Costs (the survey's caveat): the dense phase trains 2·N values (w and log α) with Adam's moments
 * for both; only the projected form is sparse (8·k bytes on disk). The dense phase saves w and
 * log α; after the projection the file holds indices and values.
 *
 * @example
 * const tuned = peft(model, [diffPruning({ density: 0.005, l0Weight: 1e-6 })]);
 * await new Trainer(tuned, { data }).train(); // projects after the last step
 * await new Trainer(tuned, { data, maxSteps: 500 }).train(); // fixed-mask fine-tuning
 */
export const diffPruningMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'diff-pruning',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'DiffPruning (Guo et al. 2021): a dense diff with a hard-concrete L0 mask, projected to the k largest entries as a sparse delta.',
  configSchema: diffPruningConfigSchema,
  apply(model, config, context): DiffPruningAppliedMethod {
    const { targets, saved } = resolveSparseTargets(model, config, 'diff-pruning');
    const k = budgetOf(targets, config.density, config.allocation);
    const total = targets.reduce((n, { parameter }) => n + parameter.size, 0);
    const sparse = sparseMethod({ name: 'diff-pruning', model, context, targets, saved: [], initialIndices: randomIndices(total, k, config.seed) });
    const delta = sparse.delta;
    delta.setEnabled(false);
    delta.values.trainable = false;
    const head = saved.length > 0 ? fromSelection({ name: 'diff-pruning', model, subset: saved.map(({ path, parameter }) => ({ path, parameter })), trainHead: false, mergeable: true }) : undefined;
    const holderName = `${delta.holderName}_dense`;
    const holder = model.attach(holderName, new DenseDiff(targets.map(({ parameter }) => parameter.shape), config.alphaInit, config.groupPenalty));
    const diffs = targets.map((_, i) => holder.parameter(`diff_${i}`));
    const alphas = targets.map((_, i) => holder.parameter(`log_alpha_${i}`));
    const groupAlpha = holder.maybeParameter('group_log_alpha');
    const dense = [...diffs, ...alphas, ...(groupAlpha ? [groupAlpha] : [])];
    const settings: HardConcrete = { temperature: config.temperature, stretch: config.stretch };
    const random = new SeedStream(config.seed);
    let projected = false;
    let enabled = true;
    let mergedOriginals: tf.Tensor[] | undefined;

    const mask = (i: number, stochastic: boolean): tf.Tensor =>
      tf.tidy(() => {
        const z = hardConcreteMask(alphas[i]!.value, settings, stochastic ? random.nextSeed() : undefined);
        if (!groupAlpha) return z;
        return tf.mul(z, hardConcreteMask(tf.slice(groupAlpha.value, [i], [1]), settings, stochastic ? random.nextSeed() : undefined));
      });
    const denseValue = (i: number, stochastic: boolean) => tf.tidy(() => tf.add(targets[i]!.parameter.variable, tf.mul(mask(i, stochastic), diffs[i]!.value)));
    const installDense = (on: boolean) => targets.forEach(({ parameter, module }, i) => parameter.overrideValue(on ? () => denseValue(i, module.training) : undefined));
    installDense(true);

    const toSparseForm = () => {
      installDense(false);
      projected = true;
      dense.forEach((parameter) => (parameter.trainable = false));
      delta.values.trainable = true;
      delta.setEnabled(enabled);
    };
    const keyOf = (i: number, name: 'diff' | 'log_alpha') => `${targets[i]!.path}.${name}`;
    const headKeys = () => new Set(Object.keys(head?.state() ?? {}));

    const applied: DiffPruningAppliedMethod = {
      name: 'diff-pruning',
      delta,
      entries: k,
      claims: [...sparse.claims, { kind: 'slot', path: holderName }, ...(head?.claims ?? [])],
      parameters: () => [...(projected ? [delta.values] : dense), ...(head?.parameters() ?? [])],
      isProjected: () => projected,
      project() {
        if (projected) return;
        if (mergedOriginals) throw new PeftError('invalid-argument', 'diff-pruning: unmerge before projecting.', { field: 'project' });
        const diffsNow = targets.map((_, i) => tf.tidy(() => tf.mul(mask(i, false), diffs[i]!.value)));
        const scores = diffsNow.map((d) => Float32Array.from(d.dataSync() as Float32Array, Math.abs));
        const indices = topByScore(scores, k, config.allocation, config.density);
        const flat = Float32Array.from(diffsNow.flatMap((d) => Array.from(d.dataSync())));
        tf.dispose(diffsNow);
        delta.setIndices(indices, Float32Array.from(indices, (index) => flat[index]!));
        toSparseForm();
      },
      regularization() {
        if (projected || config.l0Weight === 0) return tf.scalar(0);
        return tf.tidy(() => {
          const terms = alphas.map((alpha, i) => {
            const expected = tf.sum(nonZeroProbability(alpha.value, settings));
            return groupAlpha ? tf.mul(expected, tf.slice(nonZeroProbability(groupAlpha.value, settings), [i], [1]).reshape([])) : expected;
          });
          return tf.mul(tf.addN(terms), config.l0Weight) as tf.Scalar;
        });
      },
      afterStep(info) {
        if (!projected && config.projectAtEnd && info.step >= info.totalSteps) applied.project();
      },
      merge() {
        if (projected) delta.merge();
        else if (!mergedOriginals) {
          const values = targets.map((_, i) => denseValue(i, false));
          mergedOriginals = targets.map(({ parameter }) => tf.clone(parameter.variable));
          installDense(false);
          targets.forEach(({ parameter }, i) => parameter.assign(values[i]!));
          tf.dispose(values);
        }
        head?.merge!();
      },
      unmerge() {
        head?.unmerge!();
        if (projected) delta.unmerge();
        else if (mergedOriginals) {
          targets.forEach(({ parameter }, i) => parameter.assign(mergedOriginals![i]!));
          tf.dispose(mergedOriginals);
          mergedOriginals = undefined;
          installDense(enabled);
        }
      },
      setEnabled(on) {
        enabled = on;
        if (projected) delta.setEnabled(on);
        else installDense(on);
        head?.setEnabled!(on);
      },
      state() {
        const own: Record<string, tf.Tensor> = {};
        if (projected) Object.assign(own, delta.state());
        else {
          targets.forEach((_, i) => {
            own[keyOf(i, 'diff')] = diffs[i]!.value;
            own[keyOf(i, 'log_alpha')] = alphas[i]!.value;
          });
          if (groupAlpha) own.group_log_alpha = groupAlpha.value;
        }
        return { ...own, ...(head?.state() ?? {}) };
      },
      load(state) {
        const forHead = headKeys();
        const own = Object.fromEntries(Object.entries(state).filter(([key]) => !forHead.has(key)));
        head?.load(Object.fromEntries(Object.entries(state).filter(([key]) => forHead.has(key))));
        if ('indices' in own) {
          delta.load(own, 'diff-pruning');
          if (!projected) toSparseForm();
          return;
        }
        if (projected) throw new PeftError('checkpoint-mismatch', 'diff-pruning: this model is projected; it loads a projected file (indices and values) only.', { field: 'state', value: Object.keys(own), allowed: ['indices', 'values'] });
        const expected = new Map<string, Parameter>();
        targets.forEach((_, i) => {
          expected.set(keyOf(i, 'diff'), diffs[i]!);
          expected.set(keyOf(i, 'log_alpha'), alphas[i]!);
        });
        if (groupAlpha) expected.set('group_log_alpha', groupAlpha);
        const wrong = [...expected].filter(([key, parameter]) => !own[key] || own[key]!.shape.join() !== parameter.shape.join());
        const unexpected = Object.keys(own).filter((key) => !expected.has(key));
        if (wrong.length || unexpected.length) {
          throw new PeftError('checkpoint-mismatch', `diff-pruning: missing or mis-shaped [${wrong.map(([key]) => key).join(', ')}], unexpected [${unexpected.join(', ')}].`, { field: 'state', value: Object.keys(own), allowed: [...expected.keys()] });
        }
        for (const [key, parameter] of expected) parameter.assign(own[key]!);
      },
      remove() {
        if (mergedOriginals) applied.unmerge!();
        installDense(false);
        sparse.remove!();
        head?.remove!();
        model.removeChild(holderName);
        dense.forEach((parameter) => parameter.dispose());
      },
    };
    return applied;
  },
});

/** `peft(model, [diffPruning({ density: 0.005 })])` */
export const diffPruning = diffPruningMethod;
