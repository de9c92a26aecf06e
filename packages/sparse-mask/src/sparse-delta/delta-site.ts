import { PeftError, tf, type Parameter } from '@peftjs/core';
import { scatterAdd } from './scatter-add';

/** One adapter's contribution to one tensor: its flat indices and (a view of) its delta values. */
export interface SiteContribution {
  /** int32 [k] flat indices into the parameter. */
  readonly indices: tf.Tensor1D;
  /** The k delta values, recorded (a slice of the adapter's trainable vector); read inside tidy. */
  values(): tf.Tensor1D;
  /** Whether it adds to the value now (enabled and not merged into the variable). */
  active(): boolean;
}

/**
 * The sparse deltas of every adapter on one parameter. The parameter's value becomes
 * W0 + Σ_active scatter(indices_a, δ_a) through one `scatterAdd` (the contributions are concatenated,
 * so two adapters cost one dense output, not two): sparse deltas compose by addition (Ansell et al.,
 * "Composable Sparse Fine-Tuning for Cross-Lingual Transfer", §3). With no active contribution the
 * override is removed, so the parameter reads its variable directly.
 */
export class DeltaSite {
  private readonly contributions = new Set<SiteContribution>();
  private suspended = false;
  /** The active contributions and their indices concatenated (kept: the backward gathers with them). */
  private combined: { active: SiteContribution[]; indices: tf.Tensor1D | undefined } = { active: [], indices: undefined };

  constructor(readonly parameter: Parameter) {}

  add(contribution: SiteContribution): void {
    this.contributions.add(contribution);
    this.refresh();
  }

  delete(contribution: SiteContribution): void {
    this.contributions.delete(contribution);
    this.refresh();
  }

  get isEmpty(): boolean {
    return this.contributions.size === 0;
  }

  /** Reads the bare variable while `run` runs (calibration needs dense gradients of W0). */
  withoutDeltas<T>(run: () => T): T {
    const was = this.suspended;
    this.suspended = true;
    this.refresh();
    try {
      return run();
    } finally {
      this.suspended = was;
      this.refresh();
    }
  }

  /** Re-installs or removes the override after a contribution was enabled, disabled or merged. */
  refresh(): void {
    const active = this.suspended ? [] : [...this.contributions].filter((contribution) => contribution.active());
    this.combined.indices?.dispose();
    this.combined = { active, indices: active.length > 1 ? (tf.concat(active.map((contribution) => contribution.indices)) as tf.Tensor1D) : undefined };
    this.parameter.overrideValue(active.length > 0 ? () => this.compute() : undefined);
  }

  private compute(): tf.Tensor {
    const { active, indices } = this.combined;
    if (active.length === 1) return scatterAdd(this.parameter.variable, active[0]!.indices, active[0]!.values());
    return tf.tidy(() => scatterAdd(this.parameter.variable, indices!, tf.concat(active.map((contribution) => contribution.values())) as tf.Tensor1D));
  }
}

const sites = new WeakMap<Parameter, DeltaSite>();

/** The site of a parameter, made on first use; another method's override on it is a conflict. */
export function deltaSite(parameter: Parameter, path: string, method: string): DeltaSite {
  let site = sites.get(parameter);
  if (!site) {
    if (parameter.isOverridden) {
      throw new PeftError('composition-conflict', `${method}: ${path} is already reparametrized by another method.`, { field: 'targets', value: path, allowed: 'tensors no other method overrides' });
    }
    site = new DeltaSite(parameter);
    sites.set(parameter, site);
  }
  return site;
}

/** Forgets a site left without contributions. */
export function releaseSite(site: DeltaSite): void {
  if (site.isEmpty) {
    site.refresh();
    sites.delete(site.parameter);
  }
}
