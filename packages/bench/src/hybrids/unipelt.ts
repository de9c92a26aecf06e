import { defineHybrid } from './define-hybrid';

/**
 * UniPELT (Mao et al., "UniPELT: A Unified Framework for Parameter-Efficient Language Model
 * Tuning", 2022, §3): prefix tuning, a sequential bottleneck adapter after the FFN and LoRA on the
 * query and value projections, each behind a gate G = sigmoid(W x) of its sublayer input (averaged
 * over the sequence) that trains with it. Sizes of AdapterHub's UniPELTConfig: prefix length 10,
 * adapter reduction factor 16, LoRA r = 8 with alpha = 2.
 *
 * The gates are the `gated` flag of each part, passed to the method as `useGating: true`; they need
 * gated contributions from core's method kit and each family. Until a family has that option,
 * resolving UniPELT is a 'not-implemented' error naming the part.
 */
export const unipeltHybrid = defineHybrid({
  name: 'unipelt',
  description: 'UniPELT (Mao et al. 2022): gated prefix tuning + gated sequential adapter + gated LoRA on query/value.',
  parts: [
    { label: 'prefix', method: 'prefix-tuning', config: { numVirtualTokens: 10 }, gated: true },
    { label: 'adapter', method: 'pfeiffer', config: { reductionFactor: 16 }, gated: true },
    { label: 'lora', method: 'lora', config: { r: 8, alpha: 2, targets: { roles: ['attention.query', 'attention.value'] } }, gated: true },
  ],
});
