import { PeftError, tf, truncatedSvd, type Optimizer, type OptimizerFactory, type OptimizerSettings, type OptimizerState, type Parameter } from '@peftjs/core';

export interface GaloreOptions {
  /** Rank r of the gradient projection. Default 128 (the paper's choice for 60M–1B models); clamp it for small ones. */
  rank?: number;
  /** Recompute the projection every T steps, from the current gradient (`update_proj_gap`). Default 200. */
  updateProjGap?: number;
  /** α: the projected-back update is scaled by it (`scale`). Default 0.25. */
  scale?: number;
  /**
   * Which parameters are projected (by the trainer's parameter name and the parameter); the others
   * get the same Adam update unprojected. Default: 2-D weights outside the embeddings whose
   * smaller side exceeds the rank.
   */
  targets?: (name: string, parameter: Parameter) => boolean;
  /**
   * Which side of a square weight [n, n] is projected. galore_torch projects a square gradient from
   * the right, on PyTorch's nn.Linear layout [out, in]: the input side. Our Linear weights are
   * [in, out], so 'input' (the default) projects our rows from the left, matching galore_torch on
   * nn.Linear; 'output' projects our columns (what galore_torch does on an [in, out] weight, such
   * as transformers' GPT-2 Conv1D). Non-square weights always project their smaller side, as
   * galore_torch does in either layout.
   */
  squareSide?: 'input' | 'output';
}

interface ParameterState {
  step: number;
  firstMoment?: tf.Tensor;
  secondMoment?: tf.Tensor;
  /** [r, n] (right projection: m > n, or a square weight with squareSide 'output') or [m, r] (left), for projected parameters. */
  projection?: tf.Tensor2D;
}

/**
 * GaLore (Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection",
 * ICML 2024, Algorithm 2; the authors' galore_torch AdamW and GaLoreProjector): full weights train,
 * but the gradient G [m, n] of each chosen matrix is projected to rank r before Adam, so the Adam
 * moments live in the small space:
 * - every T steps (and at the first), P = the top-r right singular vectors Vᵀ_r [r, n] when m > n,
 *   else the left ones U_r [m, r], from an SVD of the current gradient (core's `truncatedSvd`); a
 *   square G [n, n] = [in, out] is projected on its input side (left), as galore_torch projects
 *   nn.Linear's [out, in] gradient from the right (see `squareSide`);
 * - R = G·Pᵀ (or Pᵀ·G); Adam on R: m, v, N = m/(√v + ε) with step size lr·√(1 − β2ᵗ)/(1 − β1ᵗ);
 * - W ← W − step·α·(N·P or P·N), then decoupled weight decay W ← W − lr·λ·W.
 * Optimizer memory per matrix: 2·m·r (or 2·r·n) moments + the projection, instead of 2·m·n.
 */
export class GaloreOptimizer implements Optimizer {
  learningRate: number;
  readonly rank: number;
  readonly updateProjGap: number;
  readonly scale: number;
  readonly squareSide: 'input' | 'output';
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly parameters: readonly Parameter[];
  private readonly names: readonly string[];
  private readonly projected: ReadonlySet<Parameter>;
  private readonly decays: ReadonlySet<Parameter>;
  private readonly states = new Map<Parameter, ParameterState>();

  constructor(parameters: readonly Parameter[], settings: OptimizerSettings, options: GaloreOptions = {}) {
    this.rank = options.rank ?? 128;
    this.updateProjGap = options.updateProjGap ?? 200;
    this.scale = options.scale ?? 0.25;
    this.squareSide = options.squareSide ?? 'input';
    if (this.squareSide !== 'input' && this.squareSide !== 'output') {
      throw new PeftError('invalid-argument', `galore: squareSide must be 'input' or 'output'; got ${String(this.squareSide)}.`, { field: 'squareSide', value: this.squareSide, allowed: ['input', 'output'] });
    }
    for (const [field, value] of [['rank', this.rank], ['updateProjGap', this.updateProjGap]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new PeftError('invalid-argument', `galore: ${field} must be a positive integer; got ${value}.`, { field, value, allowed: 'a positive integer' });
    }
    if (!Number.isFinite(this.scale)) throw new PeftError('invalid-argument', `galore: scale must be finite; got ${this.scale}.`, { field: 'scale', value: this.scale, allowed: 'a finite number' });
    this.learningRate = settings.learningRate;
    this.beta1 = settings.beta1 ?? 0.9;
    this.beta2 = settings.beta2 ?? 0.999;
    this.epsilon = settings.epsilon;
    this.weightDecay = settings.weightDecay;
    this.parameters = [...parameters];
    this.names = settings.names;
    const rank = this.rank;
    const isTarget = options.targets ?? ((name: string, parameter: Parameter) => parameter.kind === 'weight' && parameter.shape.length === 2 && !name.includes('embeddings') && Math.min(...parameter.shape) > rank);
    this.projected = new Set(parameters.filter((parameter, i) => parameter.shape.length === 2 && isTarget(this.names[i]!, parameter)));
    const exclude = settings.excludeFromWeightDecay ?? ['bias', 'gamma', 'beta'];
    const excluded = typeof exclude === 'function' ? exclude : (parameter: Parameter) => exclude.includes(parameter.kind);
    this.decays = new Set(parameters.filter((parameter) => !excluded(parameter)));
  }

  /** Whether the parameter's gradient is projected. */
  isProjected(parameter: Parameter): boolean {
    return this.projected.has(parameter);
  }

  step(gradients: ReadonlyMap<Parameter, tf.Tensor>): void {
    for (const parameter of this.parameters) {
      const gradient = gradients.get(parameter);
      if (gradient) this.update(parameter, gradient);
    }
  }

  private update(parameter: Parameter, gradient: tf.Tensor): void {
    const state = this.states.get(parameter) ?? { step: 0 };
    const { beta1, beta2, epsilon, learningRate } = this;
    const projected = this.projected.has(parameter);
    const [rows, cols] = parameter.shape as [number, number];
    const right = rows > cols || (rows === cols && this.squareSide === 'output');
    if (projected && (state.projection === undefined || state.step % this.updateProjGap === 0)) {
      const { u, s, v } = truncatedSvd(gradient as tf.Tensor2D, Math.min(this.rank, rows, cols));
      state.projection?.dispose();
      if (right) {
        state.projection = tf.transpose(v) as tf.Tensor2D;
        tf.dispose([u, s, v]);
      } else {
        state.projection = u;
        tf.dispose([s, v]);
      }
    }
    const step = state.step + 1;
    const next = tf.tidy(() => {
      const g = projected ? (right ? tf.matMul(gradient as tf.Tensor2D, state.projection!, false, true) : tf.matMul(state.projection!, gradient as tf.Tensor2D, true, false)) : gradient;
      const m = state.firstMoment ? tf.add(tf.mul(state.firstMoment, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
      const v = state.secondMoment ? tf.add(tf.mul(state.secondMoment, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
      const stepSize = (learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
      let normalized: tf.Tensor = tf.div(m, tf.add(tf.sqrt(v), epsilon));
      if (projected) normalized = tf.mul(right ? tf.matMul(normalized as tf.Tensor2D, state.projection!) : tf.matMul(state.projection!, normalized as tf.Tensor2D), this.scale);
      let value = tf.sub(parameter.variable, tf.mul(normalized, stepSize));
      if (this.decays.has(parameter) && this.weightDecay > 0) value = tf.mul(value, 1 - learningRate * this.weightDecay);
      parameter.variable.assign(value);
      return { m, v };
    });
    state.firstMoment?.dispose();
    state.secondMoment?.dispose();
    this.states.set(parameter, { ...state, step, firstMoment: next.m, secondMoment: next.v });
  }

  /** Moments as `<name>.exp_avg[_sq]` (projected shape for projected parameters) and projections as `<name>.projection`. */
  state(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    const steps: Record<string, number> = {};
    this.parameters.forEach((parameter, i) => {
      const state = this.states.get(parameter);
      if (!state?.firstMoment || !state.secondMoment) return;
      const name = this.names[i]!;
      tensors[`${name}.exp_avg`] = state.firstMoment;
      tensors[`${name}.exp_avg_sq`] = state.secondMoment;
      if (state.projection) tensors[`${name}.projection`] = state.projection;
      steps[name] = state.step;
    });
    return { tensors, steps };
  }

  load(state: OptimizerState): void {
    const byName = new Map(this.names.map((name, i) => [name, this.parameters[i]!] as const));
    const loaded = new Map<Parameter, ParameterState>();
    for (const [name, step] of Object.entries(state.steps)) {
      const parameter = byName.get(name);
      const first = state.tensors[`${name}.exp_avg`];
      const second = state.tensors[`${name}.exp_avg_sq`];
      const projection = state.tensors[`${name}.projection`];
      const problem = !parameter
        ? `optimizer state for unknown parameter "${name}"`
        : !first || !second
          ? `optimizer state lacks the moments of "${name}"`
          : this.projected.has(parameter) !== (projection !== undefined)
            ? `"${name}" is ${this.projected.has(parameter) ? '' : 'not '}projected here, but its saved state says otherwise`
            : undefined;
      if (problem) throw new PeftError('checkpoint-mismatch', `galore: ${problem}.`, { field: 'optimizer', value: name, allowed: [...byName.keys()] });
      loaded.set(parameter!, { step, firstMoment: first!.clone(), secondMoment: second!.clone(), ...(projection ? { projection: projection.clone() as tf.Tensor2D } : {}) });
    }
    this.dispose();
    for (const [parameter, entry] of loaded) this.states.set(parameter, entry);
  }

  dispose(): void {
    for (const state of this.states.values()) tf.dispose([state.firstMoment ?? [], state.secondMoment ?? [], state.projection ?? []]);
    this.states.clear();
  }
}

/**
 * GaLore as the trainer's optimizer: `train(fullFineTuning(model), { optimizer: galore({ rank: 4 }), ... })`.
 * It trains whatever the target trains (full weights, typically): it is an optimizer, not an adapter.
 */
export function galore(options: GaloreOptions = {}): OptimizerFactory {
  return (parameters, settings) => new GaloreOptimizer(parameters, settings, options);
}
