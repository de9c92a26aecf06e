import { Linear, Module, PeftError, setGlobalSeed, tf } from '@peftjs/core';

/** IPT's decoder: prompt = reshape(up(tanh(down(z)))) with down Linear(r, h), up Linear(h, P·d). */
export class IptDecoder extends Module<[intrinsic: tf.Tensor], tf.Tensor> {
  readonly length: number;
  readonly hiddenSize: number;

  constructor(options: { intrinsicDim: number; decoderHiddenSize: number; length: number; hiddenSize: number; trainable: boolean }) {
    super();
    this.length = options.length;
    this.hiddenSize = options.hiddenSize;
    this.registerModule('down', new Linear(options.intrinsicDim, options.decoderHiddenSize, { trainable: options.trainable }));
    this.registerModule('up', new Linear(options.decoderHiddenSize, options.length * options.hiddenSize, { trainable: options.trainable }));
  }

  /** z [n, r] -> prompts [n, P, d]. */
  forward(intrinsic: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child('up').forward(tf.tanh(this.child('down').forward(intrinsic))).reshape([-1, this.length, this.hiddenSize]));
  }
}

/** The auto-encoder of IPT's subspace finding: z = enc(flatten(prompt)), prompt ≈ dec(z). */
export interface IptAutoencoder {
  encoder: Module<[tf.Tensor], tf.Tensor> & { forward(prompts: tf.Tensor): tf.Tensor };
  decoder: IptDecoder;
  /** Mean squared reconstruction error per step. */
  losses: number[];
  dispose(): void;
}

/** Encoder: Linear(P·d, h)·tanh·Linear(h, r) over flattened prompts. */
class IptEncoder extends Module<[prompts: tf.Tensor], tf.Tensor> {
  constructor(inputSize: number, hiddenSize: number, intrinsicDim: number) {
    super();
    this.registerModule('down', new Linear(inputSize, hiddenSize));
    this.registerModule('up', new Linear(hiddenSize, intrinsicDim));
  }

  forward(prompts: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child('up').forward(tf.tanh(this.child('down').forward(prompts.reshape([prompts.shape[0]!, -1])))));
  }
}

/**
 * IPT's multi-task subspace finding (Qin et al. §3.1), reconstruction part: an auto-encoder trained
 * with Adam on the task prompts [P, d] (already tuned, one per training task) to minimise
 * ‖dec(enc(p)) − p‖². The paper adds the tasks' own losses through the decoded prompts; that term
 * needs the training tasks' data and is left to the caller (train `decoder` further with them).
 */
export function trainIptAutoencoder(prompts: readonly tf.Tensor[], options: { intrinsicDim: number; decoderHiddenSize: number; steps?: number; learningRate?: number; seed?: number }): IptAutoencoder {
  if (prompts.length === 0 || prompts.some((prompt) => prompt.rank !== 2 || !tf.util.arraysEqual(prompt.shape, prompts[0]!.shape))) {
    throw new PeftError('invalid-argument', 'trainIptAutoencoder needs one or more task prompts of the same shape [P, d].', { field: 'prompts', value: prompts.map((prompt) => prompt.shape), allowed: 'tensors [P, d] of one shape' });
  }
  const [length, hiddenSize] = prompts[0]!.shape as [number, number];
  setGlobalSeed(options.seed ?? 0);
  const encoder = new IptEncoder(length * hiddenSize, options.decoderHiddenSize, options.intrinsicDim);
  const decoder = new IptDecoder({ intrinsicDim: options.intrinsicDim, decoderHiddenSize: options.decoderHiddenSize, length, hiddenSize, trainable: true });
  const stacked = tf.stack(prompts as tf.Tensor[]);
  const optimizer = tf.train.adam(options.learningRate ?? 1e-2);
  const variables = [...encoder.parameters(), ...decoder.parameters()].map((parameter) => parameter.variable);
  const losses: number[] = [];
  for (let step = 0; step < (options.steps ?? 300); step++) {
    const loss = tf.tidy(() => optimizer.minimize(() => tf.mean(tf.squaredDifference(decoder.forward(encoder.forward(stacked)), stacked)) as tf.Scalar, true, variables)!);
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
  }
  optimizer.dispose();
  stacked.dispose();
  return { encoder, decoder, losses, dispose: () => { encoder.dispose(); decoder.dispose(); } };
}
