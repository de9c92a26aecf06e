import { type AppliedMethod, definePeftMethod, fromSelection, type Module, notInHead, PeftError, requireModelInfo, resolveTargets, type Sublayer, tf } from '@peftjs/core';
import { diffFitConfigSchema, type DiffFitConfig } from './config';
import { ResidualScale } from './residual-scale';

/** The base tensors DiffFit trains in place: biases and LayerNorm gammas/betas outside the head. */
function trainedTensors(model: Module<any, any>, config: DiffFitConfig) {
  const tensorKinds = [...(config.trainBiases ? ['bias'] : []), ...(config.trainNorms ? ['gamma', 'beta'] : [])];
  if (tensorKinds.length === 0) return [];
  return resolveTargets(model, { tensorKinds }, { kind: 'parameter', field: 'difffit.trainBiases', allowEmpty: true })
    .filter(notInHead(model))
    .map(({ path, parameter }) => ({ path, parameter }));
}

/**
 * DiffFit (Xie et al., "DiffFit: Unlocking Transferability of Large Diffusion Models via Simple
 * Parameter-Efficient Fine-Tuning", §3.2): train the bias terms and the norms, plus a new scale
 * γ ∈ R^hidden on each block's residual branches, x + γ ⊙ f(x), initialised to 1 so the model is
 * unchanged at init. The biases and norms train in place like BitFit; γ folds into each branch's
 * output projection on merge, so the merged model has no extra parameters or compute.
 *
 * @example
 * const tuned = peft(model, [diffFit()]);
 * const scalesOnly = peft(model, [diffFit({ trainBiases: false, trainNorms: false })]);
 */
export const diffFitMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'difffit',
  packageName: '@peftjs/selective',
  kind: 'selective',
  description: 'Trains biases, norms and a new per-block residual scale γ (initialised to 1); γ merges into the output projections.',
  configSchema: diffFitConfigSchema,
  apply(model, config, context): AppliedMethod {
    // The width of the residual stream γ scales.
    const hiddenSize = requireModelInfo(context, 'difffit').hiddenSize;
    const targets = resolveTargets(model, { roles: [...config.branches], ...(config.layers ? { layers: [...config.layers] } : {}) }, { kind: 'module', field: config.layers ? 'difffit.layers' : 'difffit.branches' });
    const scales: Array<{ path: string; layer: ResidualScale }> = [];
    const selection = fromSelection({
      name: 'difffit',
      model,
      subset: trainedTensors(model, config),
      trainHead: config.trainHead,
      mergeable: true,
      allowEmpty: true,
    });
    try {
      for (const { path } of targets) scales.push({ path, layer: model.replaceModule(path, (current) => new ResidualScale(current as Sublayer, hiddenSize, config.init)) });
    } catch (error) {
      for (const { path, layer } of scales.reverse()) model.replaceModule(path, () => layer.inner);
      selection.remove!();
      throw error;
    }
    const gammaKey = (path: string) => `${path}.gamma`;
    /** Unmerged copies of merged projection biases, owned here until the next state() or remove(). */
    let savedBiases: tf.Tensor[] = [];
    const selectionKeys = (state: Record<string, tf.Tensor>) => Object.fromEntries(Object.entries(state).filter(([key]) => !scales.some(({ path }) => key === gammaKey(path))));

    return {
      name: 'difffit',
      claims: [...selection.claims, ...scales.map(({ path }) => ({ kind: 'wrap' as const, path }))],
      parameters: () => [...selection.parameters(), ...scales.map(({ layer }) => layer.gamma)],
      ...(selection.transformGradients ? { transformGradients: selection.transformGradients } : {}),
      ...(selection.afterStep ? { afterStep: selection.afterStep } : {}),
      merge: () => scales.forEach(({ layer }) => layer.merge()),
      unmerge: () => scales.forEach(({ layer }) => layer.unmerge()),
      setEnabled(enabled) {
        selection.setEnabled!(enabled);
        for (const { layer } of scales) layer.enabled = enabled;
      },
      state() {
        tf.dispose(savedBiases);
        savedBiases = [];
        const state: Record<string, tf.Tensor> = { ...selection.state(), ...Object.fromEntries(scales.map(({ path, layer }) => [gammaKey(path), layer.gamma.value as tf.Tensor])) };
        // A merged γ sits in its projection's trained bias too; save b / γ so a load onto a fresh model applies γ once.
        // divNoNan: where γ = 0 the bias no longer matters (the branch output is zero either way).
        for (const { layer } of scales) {
          if (!layer.merged) continue;
          const bias = layer.outputProjection().bias;
          const selected = bias && selection.selections.find((candidate) => candidate.parameter === bias);
          if (!bias || !selected) continue;
          const unmerged = tf.tidy(() => tf.divNoNan(bias.value, layer.gamma.value));
          savedBiases.push(unmerged);
          state[selected.path] = unmerged;
        }
        return state;
      },
      load(state) {
        const missing = scales.map(({ path }) => gammaKey(path)).filter((key) => !(key in state));
        if (missing.length) {
          throw new PeftError('checkpoint-mismatch', `difffit: missing keys [${missing.join(', ')}].`, { field: 'state', value: Object.keys(state), allowed: scales.map(({ path }) => gammaKey(path)) });
        }
        for (const { path } of scales) {
          const tensor = state[gammaKey(path)]!;
          if (tensor.shape.length !== 1 || tensor.shape[0] !== hiddenSize) {
            throw new PeftError('checkpoint-mismatch', `difffit: ${gammaKey(path)} has shape [${tensor.shape.join(', ')}], expected [${hiddenSize}].`, { field: gammaKey(path), value: tensor.shape, allowed: `[${hiddenSize}]` });
          }
        }
        // The saved values are unmerged (see state()): load into the unmerged layout, then fold γ in again.
        const merged = scales.filter(({ layer }) => layer.merged);
        for (const { layer } of merged) layer.unmerge();
        selection.load(selectionKeys(state));
        for (const { path, layer } of scales) layer.gamma.assign(state[gammaKey(path)]!);
        for (const { layer } of merged) layer.merge();
      },
      remove() {
        for (const { path, layer } of [...scales].reverse()) {
          if (layer.merged) layer.unmerge();
          model.replaceModule(path, () => layer.inner);
          layer.gamma.dispose();
        }
        selection.remove!();
        tf.dispose(savedBiases);
        savedBiases = [];
      },
    };
  },
});

/** `peft(model, [diffFit()])` */
export const diffFit = diffFitMethod;
