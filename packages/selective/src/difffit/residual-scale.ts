import { Linear, Module, Parameter, PeftError, tf, type LayerContext, type ModuleRole, type Sublayer } from '@peftjs/core';

/** The output projection of a sublayer, by the sublayer's role: the Linear its output comes from. */
const OUTPUT_PROJECTION_ROLE: Partial<Record<string, ModuleRole>> = { attention: 'attention.output', ffn: 'ffn.down' };

/**
 * A block's attention or FFN sublayer with its output scaled by a learned γ ∈ R^hidden before the
 * residual add: x + γ ⊙ f(x) (Xie et al., "DiffFit: Unlocking Transferability of Large Diffusion
 * Models via Simple Parameter-Efficient Fine-Tuning", §3.2, Eq. 5–6).
 *
 * f ends in a linear projection (and dropout, which commutes with a channel scale), so γ folds
 * exactly into that projection's columns and bias: merge leaves no inference overhead.
 */
export class ResidualScale extends Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor> {
  enabled = true;
  merged = false;

  constructor(inner: Sublayer, hiddenSize: number, init: number) {
    super();
    this.role = inner.role;
    this.registerModule('inner', inner);
    this.registerParameter('gamma', new Parameter(tf.fill([hiddenSize], init), { kind: 'scale' }));
  }

  get inner(): Sublayer {
    return this.child<Sublayer>('inner');
  }

  get gamma(): Parameter {
    return this.parameter('gamma');
  }

  forward(hidden: tf.Tensor, context: LayerContext): tf.Tensor {
    if (!this.enabled || this.merged) return this.inner.forward(hidden, context);
    return tf.tidy(() => tf.mul(this.inner.forward(hidden, context), this.gamma.value));
  }

  /** The Linear whose output is the sublayer's output (attention.output or ffn.down). */
  outputProjection(): Linear {
    const role = this.role === undefined ? undefined : OUTPUT_PROJECTION_ROLE[this.role];
    const found = role === undefined ? [] : this.inner.namedModules().filter(([, module]) => module.role === role && module instanceof Linear);
    if (found.length !== 1) {
      throw new PeftError('not-mergeable', `difffit: cannot fold γ of a '${this.role}' sublayer: it needs exactly one Linear with role ${role ?? '(none)'} directly producing its output; found ${found.length}.`, {
        field: 'merge',
        value: found.map(([path]) => path),
        allowed: 'a sublayer ending in one plain Linear (attention.output or ffn.down)',
      });
    }
    return found[0]![1] as Linear;
  }

  /** W ← W·diag(γ), b ← b ⊙ γ on the output projection. */
  merge(): void {
    if (this.merged) return;
    this.rescaleProjection(this.gamma.value, 'merge');
    this.merged = true;
  }

  /** Divides γ back out; refused when an entry is (near) zero, since that cannot be undone. */
  unmerge(): void {
    if (!this.merged) return;
    const tiny = tf.tidy(() => tf.any(tf.less(tf.abs(this.gamma.value), 1e-12)).dataSync()[0]);
    if (tiny) {
      throw new PeftError('not-mergeable', 'difffit: cannot unmerge a γ with zero entries (the weights lost that information).', { field: 'gamma', allowed: 'entries with |γ| > 1e-12' });
    }
    tf.tidy(() => this.rescaleProjection(tf.reciprocal(this.gamma.value), 'unmerge'));
    this.merged = false;
  }

  private rescaleProjection(factor: tf.Tensor, what: string): void {
    const projection = this.outputProjection();
    const next = tf.tidy(() => ({ weight: tf.mul(projection.weight.value, factor), bias: projection.bias ? tf.mul(projection.bias.value, factor) : undefined }));
    const finite = tf.tidy(() => tf.all(tf.isFinite(next.weight)).dataSync()[0] === 1 && (!next.bias || tf.all(tf.isFinite(next.bias)).dataSync()[0] === 1));
    if (!finite) {
      tf.dispose([next.weight, next.bias ?? []]);
      throw new PeftError('merge-not-finite', `difffit: ${what} would write non-finite weights; nothing was changed.`, { field: 'gamma' });
    }
    projection.weight.assign(next.weight);
    if (next.bias) projection.bias!.assign(next.bias);
    tf.dispose([next.weight, next.bias ?? []]);
  }
}
