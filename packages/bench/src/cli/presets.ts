/** Sizes of a comparison: what `--smoke` and the defaults mean. */
export interface ComparePreset {
  seeds: number;
  steps: number;
  batchSize: number;
  /** Examples kept per split (evenly across each split). */
  subset: { train: number; validation: number; test: number };
  /** Start from the pretrained encoder bundled with the bench (its size then comes from its config; maxLength still applies). */
  pretrained: boolean;
  /** Size of the random-init backbone (used when not pretrained, or with --scratch), and the longest input. */
  backbone: { hiddenSize: number; numLayers: number; numHeads: number; vocabSize: number; maxLength: number };
  memoryBatchSizes: number[];
}

/** A run that finishes in well under a minute on 2 CPU cores: a tiny encoder, few steps, one seed. */
export const SMOKE_PRESET: ComparePreset = {
  seeds: 1,
  steps: 150,
  batchSize: 16,
  subset: { train: 1500, validation: 50, test: 300 },
  pretrained: false,
  backbone: { hiddenSize: 32, numLayers: 2, numHeads: 2, vocabSize: 1000, maxLength: 48 },
  memoryBatchSizes: [4, 8, 16],
};

/**
 * The default comparison: the bundled pretrained encoder, sized to finish in under 5 minutes on 2
 * CPU cores with three methods and the worker pool (estimated from the CPU time of short runs: about
 * 1 s per full fine-tuning step and 0.5 s per LoRA or BitFit step on one wasm core).
 */
export const DEFAULT_PRESET: ComparePreset = {
  seeds: 2,
  steps: 100,
  batchSize: 16,
  subset: { train: 4000, validation: 200, test: 600 },
  pretrained: true,
  backbone: { hiddenSize: 64, numLayers: 2, numHeads: 4, vocabSize: 2000, maxLength: 64 },
  memoryBatchSizes: [8, 16, 32],
};

/** Methods compared when `--methods` is not given: full fine-tuning plus these, where registered. */
export const DEFAULT_METHODS = ['full', 'lora', 'bitfit'] as const;

export const DEFAULT_TASK = 'sotu-era';

/** Named method sets of `--suite`: `survey` runs every registered method of every family plus the hybrids (the survey's Table 5). */
export const SUITES = ['survey'] as const;
