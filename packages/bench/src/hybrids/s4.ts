import { PeftError } from '@peftjs/core';
import { defineHybrid, type Hybrid } from './define-hybrid';

/**
 * The "spindle" grouping of Chen et al., "Parameter-Efficient Fine-Tuning Design Spaces" (2023,
 * §4): consecutive layers in four groups, the middle two larger than the outer two. Sizes follow
 * the proportions 1 : 2 : 2 : 1 (12 layers give 2, 4, 4, 2), each group at least one layer, the
 * remainder going to the middle groups. Returns the layer indices of each group.
 */
export function spindleGroups(numLayers: number): [number[], number[], number[], number[]] {
  if (!Number.isInteger(numLayers) || numLayers < 4) {
    throw new PeftError('invalid-argument', `Invalid numLayers: got ${numLayers}; allowed: an integer >= 4 (S4 needs four groups of at least one layer).`, { field: 'numLayers', value: numLayers, allowed: 'an integer >= 4' });
  }
  const outer = Math.max(1, Math.round(numLayers / 6));
  const middle = numLayers - 2 * outer;
  const sizes = [outer, Math.ceil(middle / 2), Math.floor(middle / 2), outer];
  const groups: number[][] = [];
  let next = 0;
  for (const size of sizes) {
    groups.push(Array.from({ length: size }, (_, i) => next + i));
    next += size;
  }
  return groups as [number[], number[], number[], number[]];
}

/**
 * S4 (Chen et al. 2023, §4.4): on the spindle groups G1..G4, adapters (A) on G1, G2, G3; prefix
 * tuning (P) on G2, G3, G4; BitFit (B) on G3, G4; LoRA (L) on G1 and G4 — G1: (A, L), G2: (A, P),
 * G3: (A, P, B), G4: (P, B, L) — with each method's parameters spread uniformly over its layers.
 * Every part is restricted by `targets.layers`. The sizes are one choice for a small encoder:
 * Houlsby adapters with reduction factor 16, 10 prefix tokens per layer, LoRA r = 4 on query and
 * value; the paper tuned them to 0.5% trainable parameters on T5-base, which the report's
 * trainable % can be held against.
 */
export function defineS4Hybrid(numLayers: number, name = 's4'): Hybrid {
  const [g1, g2, g3, g4] = spindleGroups(numLayers);
  return defineHybrid({
    name,
    description: `S4 (Chen et al. 2023) on ${numLayers} layers: spindle groups ${[g1, g2, g3, g4].map((group) => `[${group.join(',')}]`).join(' ')} with adapters, prefix, BitFit and LoRA per group.`,
    parts: [
      { label: 'adapter', method: 'houlsby', config: { reductionFactor: 16, targets: { layers: [...g1, ...g2, ...g3] } } },
      { label: 'prefix', method: 'prefix-tuning', config: { numVirtualTokens: 10, layers: [...g2, ...g3, ...g4] } },
      { label: 'bitfit', method: 'bitfit', config: { layers: [...g3, ...g4] } },
      { label: 'lora', method: 'lora', config: { r: 4, alpha: 8, targets: { roles: ['attention.query', 'attention.value'], layers: [...g1, ...g4] } } },
    ],
  });
}

/**
 * S4 for the bench's bundled 4-layer encoder: with four layers the spindle has one layer per group
 * (it cannot be uneven), so G1..G4 are layers 0..3.
 */
export const s4Hybrid = defineS4Hybrid(4);
