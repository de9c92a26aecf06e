import type { tf} from '@peftjs/core';
import { Parameter, type Module } from '@peftjs/core';
import { PromptRows } from '../shared/prompt-rows';

/**
 * P-tuning's soft tokens (Liu et al., "GPT Understands, Too", §3.2): a trained input table
 * (`embedding` [P, d]) passed through a prompt encoder on every forward, so the tokens are
 * dependent on each other. Only the encoder's output is needed at inference (what HF saves).
 */
export class EncodedPrompt extends PromptRows {
  constructor(table: tf.Tensor, encoder: Module<[tf.Tensor], tf.Tensor>) {
    const [length, hiddenSize] = table.shape as [number, number];
    super(length, hiddenSize);
    this.registerParameter('embedding', new Parameter(table, { kind: 'weight' }));
    this.registerModule('encoder', encoder);
  }

  rows(): tf.Tensor {
    return this.child<Module<[tf.Tensor], tf.Tensor>>('encoder').forward(this.parameter('embedding').value);
  }
}
