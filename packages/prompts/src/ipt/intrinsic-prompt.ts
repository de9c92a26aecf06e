import { Parameter, tf } from '@peftjs/core';
import { PromptRows } from '../shared/prompt-rows';
import type { IptDecoder } from './autoencoder';

/**
 * IPT's downstream prompt (Qin et al. §3.2): the trained intrinsic vector z [r] (`intrinsic`) through
 * the frozen decoder (`decoder`), P_e = dec(z) [P, d].
 */
export class IntrinsicPrompt extends PromptRows {
  constructor(decoder: IptDecoder, intrinsic: tf.Tensor) {
    super(decoder.length, decoder.hiddenSize);
    this.registerParameter('intrinsic', new Parameter(intrinsic, { kind: 'weight' }));
    this.registerModule('decoder', decoder);
  }

  get intrinsic(): Parameter {
    return this.parameter('intrinsic');
  }

  get decoder(): IptDecoder {
    return this.child<IptDecoder>('decoder');
  }

  rows(): tf.Tensor {
    return tf.tidy(() => this.decoder.forward(this.intrinsic.value.reshape([1, -1])).reshape([this.length, this.hiddenSize]));
  }
}
