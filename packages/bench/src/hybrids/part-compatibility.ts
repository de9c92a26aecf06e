import { PeftError } from '@peftjs/core';

/** What the pairwise check needs to know of a part: its method name, label and resolved config. */
export interface PartDescription {
  label: string;
  method: string;
  config: Readonly<Record<string, unknown>>;
}

/**
 * The architecture a method belongs to, as AdapterHub's configs name it (`architecture`): two parts
 * of different architectures always combine; two of the same one conflict unless they sit at
 * different places. Methods not listed are their own architecture.
 */
export const METHOD_ARCHITECTURES: Readonly<Record<string, string>> = {
  houlsby: 'bottleneck',
  pfeiffer: 'bottleneck',
  'parallel-adapter': 'bottleneck',
  'scaled-parallel-adapter': 'bottleneck',
  compacter: 'bottleneck',
  'prefix-tuning': 'prefix',
  'adaptive-prefix-tuning': 'prefix',
  'prompt-tuning': 'prompt',
  'p-tuning': 'prompt',
  spot: 'prompt',
  ipt: 'prompt',
  lora: 'lora',
  dora: 'lora',
  adalora: 'lora',
};

/**
 * Where a bottleneck adapter sits by default: after (or beside) the attention sublayer, the FFN
 * sublayer, or both (AdapterHub's `mh_adapter` / `output_adapter`). Houlsby adds both; Pfeiffer and
 * He et al.'s parallel adapters sit at the FFN.
 */
export const BOTTLENECK_PLACEMENTS: Readonly<Record<string, { attention: boolean; ffn: boolean }>> = {
  houlsby: { attention: true, ffn: true },
  pfeiffer: { attention: false, ffn: true },
  'parallel-adapter': { attention: false, ffn: true },
  'scaled-parallel-adapter': { attention: false, ffn: true },
  compacter: { attention: true, ffn: true },
};

/** The layer indices a part is restricted to (`targets.layers`), or undefined when it takes every layer. */
export function partLayers(config: Readonly<Record<string, unknown>>): readonly number[] | undefined {
  const targets = config.targets as { layers?: unknown } | undefined;
  return Array.isArray(targets?.layers) ? (targets.layers as number[]) : undefined;
}

/**
 * Checks that parts can be combined, as AdapterHub's `ConfigUnion.validate` does: pairwise, parts
 * of different architectures combine; where a part is restricted to some layers the decision is
 * left to the slots they claim when applied (AdapterHub's `leave_out` case), except that parts on
 * disjoint layers always combine; two bottleneck adapters combine only when one sits at the
 * attention and the other at the FFN; any other pair of one architecture is a
 * 'composition-conflict' naming both parts.
 */
export function validatePartCompatibility(hybridName: string, parts: readonly PartDescription[]): void {
  for (let i = 0; i < parts.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = parts[j]!;
      const b = parts[i]!;
      const architecture = METHOD_ARCHITECTURES[a.method] ?? a.method;
      if (architecture !== (METHOD_ARCHITECTURES[b.method] ?? b.method)) continue;
      const layersA = partLayers(a.config);
      const layersB = partLayers(b.config);
      if (layersA !== undefined || layersB !== undefined) continue;
      if (architecture === 'bottleneck') {
        const placeA = BOTTLENECK_PLACEMENTS[a.method]!;
        const placeB = BOTTLENECK_PLACEMENTS[b.method]!;
        if (placeA.attention !== placeB.attention && placeA.ffn !== placeB.ffn) continue;
      }
      throw new PeftError(
        'composition-conflict',
        `Hybrid "${hybridName}": parts "${a.label}" (${a.method}) and "${b.label}" (${b.method}) are both ${architecture} methods at the same place and cannot be combined. ` +
          'Give them disjoint layers (targets.layers) or different sublayers, or drop one.',
        { field: `${hybridName}.parts.${b.label}`, value: [a.method, b.method], allowed: 'parts of different architectures, or at different layers or sublayers' },
      );
    }
  }
}
