import type { tf } from '@peftjs/core';
import { Parameter } from '@peftjs/core';
import { PromptRows } from './prompt-rows';

/**
 * Soft tokens stored as a trained table [P, hidden] (parameter `embedding`, HF's
 * `prompt_encoder.<adapter>.embedding.weight`): prompt tuning's P_e (Lester et al. §2), and what a
 * P-tuning or reparametrized prompt becomes once its encoder output is saved.
 */
export class PromptTable extends PromptRows {
  constructor(initial: tf.Tensor) {
    const [length, hiddenSize] = initial.shape as [number, number];
    super(length, hiddenSize);
    this.registerParameter('embedding', new Parameter(initial, { kind: 'weight' }));
  }

  get embedding(): Parameter {
    return this.parameter('embedding');
  }

  rows(): tf.Tensor {
    return this.embedding.value;
  }
}
