import { defineHybrid } from './define-hybrid';

/**
 * MAM adapter (He et al., "Towards a Unified View of Parameter-Efficient Transfer Learning", 2022,
 * §4.5 and Table 6): prefix tuning on the attention plus a scaled parallel adapter beside the FFN.
 * The paper's sizes on BART-large (d = 1024): prefix length l = 30, the scaled parallel FFN adapter
 * with bottleneck r = 512 and scale s = 4; AdapterHub's MAMConfig adds a prefix MLP of width 800.
 * Scaled to the bench's hidden size 128 by the same ratios: bottleneck 64 (reduction factor 2) and
 * prefix MLP width 100; l = 30 and s = 4 are kept.
 */
export const mamHybrid = defineHybrid({
  name: 'mam',
  description: 'MAM adapter (He et al. 2022): prefix tuning on attention + scaled parallel adapter beside the FFN.',
  parts: [
    { label: 'prefix', method: 'prefix-tuning', config: { numVirtualTokens: 30, prefixProjection: true, encoderHiddenSize: 100 } },
    { label: 'adapter', method: 'scaled-parallel-adapter', config: { reductionFactor: 2, scaling: 4 } },
  ],
});
