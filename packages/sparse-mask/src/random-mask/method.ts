import { SeedStream, definePeftMethod, type ParameterTarget } from '@peftjs/core';
import { randomIndices } from '../sparse-delta/select';
import { budgetOf, resolveSparseTargets, sparseMethod } from '../shared/sparse-method';
import { randomMaskConfigSchema } from './config';

/**
 * Random mask (Fu et al., "On the Effectiveness of Parameter-Efficient Fine-Tuning", §3 "Random
 * Approaches: Random model"): θ = θ0 + M ⊙ Δθ with M drawn uniformly at density p, fixed before
 * training, stored as a sparse delta (k indices + k values).
 *
 * @example
 * const tuned = peft(model, [randomMask({ density: 0.005, seed: 1 })]);
 */
export const randomMaskMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'random-mask',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'Random mask: k = ⌊N·p⌋ entries drawn uniformly (or whole random rows/columns) train as a sparse delta (Fu et al. 2023).',
  configSchema: randomMaskConfigSchema,
  apply(model, config, context) {
    const { targets, saved } = resolveSparseTargets(model, config, 'random-mask');
    const total = targets.reduce((n, { parameter }) => n + parameter.size, 0);
    const indices =
      config.layout === 'entries'
        ? randomIndices(total, budgetOf(targets, config.density, 'global'), config.seed)
        : structuredIndices(targets, config.density, config.layout, config.seed);
    return sparseMethod({ name: 'random-mask', model, context, targets, saved, initialIndices: indices });
  },
});

/** Whole rows (axis 0) or columns (axis 1) of each matrix, in a seeded random order, ⌊size·p⌋ entries per tensor. */
function structuredIndices(targets: readonly ParameterTarget[], density: number, layout: 'rows' | 'columns', seed: number): Int32Array {
  const random = new SeedStream(seed);
  const chosen: number[] = [];
  let offset = 0;
  for (const { parameter } of targets) {
    const budget = Math.floor(parameter.size * density);
    if (parameter.shape.length !== 2) {
      for (const index of randomIndices(parameter.size, budget, random.nextSeed())) chosen.push(offset + index);
    } else {
      const [rows, columns] = parameter.shape as [number, number];
      const lines = layout === 'rows' ? rows : columns;
      const length = layout === 'rows' ? columns : rows;
      const order = randomIndices(lines, lines, random.nextSeed());
      shuffle(order, random);
      let taken = 0;
      for (const line of order) {
        for (let j = 0; j < length && taken < budget; j++, taken++) chosen.push(offset + (layout === 'rows' ? line * columns + j : j * columns + line));
        if (taken >= budget) break;
      }
    }
    offset += parameter.size;
  }
  if (chosen.length === 0) chosen.push(...randomIndices(offset, 1, seed));
  return Int32Array.from(chosen);
}

function shuffle(values: Int32Array, random: SeedStream): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const swap = values[i]!;
    values[i] = values[j]!;
    values[j] = swap;
  }
}

/** `peft(model, [randomMask({ density: 0.01 })])` */
export const randomMask = randomMaskMethod;
