import { PeftError, tf, truncatedSvd, type PeftModel } from '@peftjs/core';
import type { LoraTarget } from '../lora/hf-format';
import { LoraLinear } from '../lora/layer';
import { lora, type LoraAppliedMethod } from '../lora/method';

/** How addWeightedAdapter combines the updates (HF PEFT's `combination_type`). */
export const COMBINATION_TYPES = ['linear', 'cat', 'svd'] as const;
export type CombinationType = (typeof COMBINATION_TYPES)[number];

export interface WeightedAdapterOptions {
  /** Existing LoRA adapters of the model. */
  adapters: readonly string[];
  /** One weight per adapter. */
  weights: readonly number[];
  /** Name of the new adapter. */
  name: string;
  combinationType: CombinationType;
  /** Rank of the 'svd' result; default the largest rank of the inputs. */
  svdRank?: number;
}

/**
 * Adds a LoRA adapter combining others (HF PEFT's `add_weighted_adapter`), on the same targets,
 * with scaling 1 (alpha = r), added disabled like any new adapter (`setAdapter(name)` to use it):
 * - 'cat': A = [w_1 s_1 A_1, …] and B = [B_1; …] concatenated along the rank (rank Σ r_i), so
 *   ΔW = Σ w_i s_i A_i B_i exactly.
 * - 'linear': A = Σ √(w_i s_i) A_i and B = Σ √(w_i s_i) B_i (equal ranks required). As in HF PEFT
 *   this is not Σ w_i ΔW_i: the cross terms A_i B_j stay; it is exact for one adapter. Weights ≥ 0.
 * - 'svd': ΔW = Σ w_i s_i A_i B_i per target, truncated to `svdRank` by SVD: A = U_r, B = diag(σ_r)·V_rᵀ
 *   (HF's B = U·S, A = Vh in its [out, in] layout); exact when svdRank ≥ rank(ΔW).
 * Our A is [in, r] and B [r, out] (HF's lora_A and lora_B transposed). Unlike HF, one adapter keeps
 * the combinationType asked for (HF switches to 'linear'); 'cat' of one adapter is its exact w·ΔW.
 */
export function addWeightedAdapter(peftModel: PeftModel<any>, options: WeightedAdapterOptions): void {
  const { adapters, weights, name, combinationType } = options;
  if (!(COMBINATION_TYPES as readonly string[]).includes(combinationType)) {
    throw new PeftError('invalid-argument', `combinationType ${JSON.stringify(combinationType)} is not supported.`, { field: 'combinationType', value: combinationType, allowed: [...COMBINATION_TYPES] });
  }
  if (adapters.length === 0) throw new PeftError('invalid-argument', 'adapters is empty.', { field: 'adapters', value: [], allowed: 'at least one LoRA adapter name' });
  if (weights.length !== adapters.length || weights.some((weight) => !Number.isFinite(weight))) {
    throw new PeftError('invalid-argument', `weights must be ${adapters.length} finite numbers, one per adapter; got [${weights.join(', ')}].`, { field: 'weights', value: [...weights], allowed: `${adapters.length} finite numbers` });
  }
  const known = peftModel.adapterNames();
  const missing = adapters.find((adapter) => !known.includes(adapter));
  if (missing !== undefined) throw new PeftError('invalid-argument', `Unknown adapter ${JSON.stringify(missing)}.`, { field: 'adapters', value: missing, allowed: known });

  const perAdapter = adapters.map((adapter) => loraTargetsOf(peftModel, adapter));
  const paths = perAdapter[0]!.map((target) => target.path);
  perAdapter.forEach((targets, i) => {
    const own = targets.map((target) => target.path);
    if (own.length !== paths.length || own.some((path, j) => path !== paths[j])) {
      throw new PeftError('invalid-argument', `Adapter ${JSON.stringify(adapters[i])} targets [${own.join(', ')}], not the same modules as ${JSON.stringify(adapters[0])} [${paths.join(', ')}].`, {
        field: 'adapters',
        value: adapters[i],
        allowed: 'LoRA adapters on the same target modules',
      });
    }
  });
  const ranks = perAdapter.map((targets) => targets[0]!.layer.r);
  const uniform = perAdapter.every((targets) => targets.every(({ layer }) => layer.r === targets[0]!.layer.r));
  if (!uniform) throw new PeftError('not-implemented', 'addWeightedAdapter needs one rank per adapter (rank patterns are not combined).', { field: 'adapters', value: [...adapters], allowed: 'adapters without rankPattern' });
  if (combinationType === 'linear' && ranks.some((rank) => rank !== ranks[0])) {
    throw new PeftError('invalid-argument', `'linear' needs equal ranks; got ${ranks.join(', ')}. Use 'cat' or 'svd'.`, { field: 'combinationType', value: 'linear', allowed: ['cat', 'svd'] });
  }
  // Checked before any tensor is built: HF's math.sqrt(w·s) fails the same way (s > 0).
  if (combinationType === 'linear' && weights.some((weight) => weight < 0)) {
    throw new PeftError('invalid-argument', `'linear' takes √(w·s): weights must be ≥ 0; got [${weights.join(', ')}]. Use 'cat' or 'svd' for negative weights.`, { field: 'weights', value: [...weights], allowed: 'non-negative weights' });
  }
  const maxRank = Math.min(...perAdapter[0]!.map(({ layer }) => Math.min(layer.inFeatures, layer.outFeatures)));
  const rank = combinationType === 'cat' ? ranks.reduce((sum, r) => sum + r, 0) : combinationType === 'linear' ? ranks[0]! : (options.svdRank ?? Math.max(...ranks));
  if (combinationType === 'svd' && (!Number.isInteger(rank) || rank < 1 || rank > maxRank)) {
    throw new PeftError('invalid-argument', `svdRank must be an integer in [1, ${maxRank}]; got ${rank}.`, { field: 'svdRank', value: rank, allowed: `1..${maxRank}` });
  }

  const factors = paths.map((_, t) =>
    tf.tidy(() => {
      const layers = perAdapter.map((targets) => targets[t]!.layer);
      const a = (layer: LoraLinear) => layer.loraA.value as tf.Tensor2D;
      const b = (layer: LoraLinear) => layer.loraB.value as tf.Tensor2D;
      if (combinationType === 'cat') {
        return { a: tf.concat(layers.map((layer, i) => tf.mul(a(layer), weights[i]! * layer.scaling)), 1), b: tf.concat(layers.map(b), 0) };
      }
      if (combinationType === 'linear') {
        const factor = (layer: LoraLinear, i: number) => Math.sqrt(weights[i]! * layer.scaling);
        return { a: tf.addN(layers.map((layer, i) => tf.mul(a(layer), factor(layer, i)))), b: tf.addN(layers.map((layer, i) => tf.mul(b(layer), factor(layer, i)))) };
      }
      const delta = tf.addN(layers.map((layer, i) => tf.mul(tf.matMul(a(layer), b(layer)), weights[i]! * layer.scaling))) as tf.Tensor2D;
      const { u, s, v } = truncatedSvd(delta, rank);
      return { a: u, b: tf.mul(tf.transpose(v), tf.expandDims(s, 1)) as tf.Tensor2D };
    }),
  );
  try {
    peftModel.addAdapter(name, [lora({ r: rank, alpha: rank, targets: { paths: [...paths] } })]);
    const created = loraTargetsOf(peftModel, name);
    created.forEach(({ layer }, t) => {
      layer.loraA.assign(factors[t]!.a);
      layer.loraB.assign(factors[t]!.b);
    });
  } finally {
    tf.dispose(factors.flatMap(({ a, b }) => [a, b]));
  }
}

/** The LoraLinear layers of an adapter made of exactly one `lora` method, in model order. */
function loraTargetsOf(peftModel: PeftModel<any>, adapter: string): Array<{ path: string; layer: LoraLinear }> {
  const entries = peftModel.entries(adapter);
  if (entries.length !== 1 || entries[0]!.method.name !== 'lora') {
    throw new PeftError('invalid-argument', `Adapter ${JSON.stringify(adapter)} is not a single LoRA method (${entries.map((entry) => entry.method.name).join(', ')}).`, {
      field: 'adapters',
      value: adapter,
      allowed: 'adapters made of one lora() method',
    });
  }
  const targets: readonly LoraTarget[] = (entries[0]!.applied as LoraAppliedMethod).loraTargets();
  return targets.map(({ path, layer }) => {
    if (!(layer instanceof LoraLinear) || layer.useDora) {
      throw new PeftError('not-implemented', `Adapter ${JSON.stringify(adapter)}: ${path} is ${layer instanceof LoraLinear ? 'DoRA' : 'an embedding'}; only plain LoRA linears combine.`, {
        field: 'adapters',
        value: adapter,
        allowed: 'LoRA on Linear targets without DoRA',
      });
    }
    return { path, layer };
  });
}
