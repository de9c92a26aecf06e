import { createBert, setGlobalSeed } from '@peftjs/core';
import type { ConformanceModel } from '@peftjs/core/testing';

/**
 * The conformance BERT's shape with weights of std 0.3 instead of 0.02, so adapters and gates move
 * the logits by O(0.1–1) and the comparisons below mean something. Same weights on every call.
 */
export function createTestBert(): ConformanceModel {
  setGlobalSeed(1234);
  const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 });
  model.eval();
  return model as unknown as ConformanceModel;
}
