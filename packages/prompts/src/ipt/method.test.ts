import { peft, tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { promptTuning } from '../prompt-tuning/method';
import { checkGradientByFiniteDifferences } from '../shared/gradient-check.test-support';
import { maxAbsDifference } from '../shared/hf-fixtures.test-support';
import { paddedBatch, tinyBert, weightedHiddenLoss } from '../shared/models.test-support';
import { trainOnBatch } from '../shared/training.test-support';
import { trainIptAutoencoder } from './autoencoder';
import { ipt, setIptDecoder } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('IPT', () => {
  it('learns an auto-encoder whose decoder reproduces the task prompts from r numbers', () => {
    const prompts = [1, 2, 3].map((seed) => tf.randomNormal([3, 16], 0, 1, 'float32', seed));
    const autoencoder = trainIptAutoencoder(prompts, { intrinsicDim: 3, decoderHiddenSize: 32, steps: 300, learningRate: 1e-2 });
    expect(autoencoder.losses.at(-1)!).toBeLessThan(0.05 * autoencoder.losses[0]!);
    const decoded = tf.tidy(() => autoencoder.decoder.forward(autoencoder.encoder.forward(tf.stack(prompts))));
    expect(maxAbsDifference(decoded, tf.stack(prompts))).toBeLessThan(0.5);
    autoencoder.dispose();
  });

  it('trains only z through the frozen decoder; the prompt is dec(z)', () => {
    const sourcePrompts = [1, 2, 3].map((seed) => {
      const tuned = peft(tinyBert(), [promptTuning({ numVirtualTokens: 3, init: 'random', seed, initStd: 0.5 })]);
      trainOnBatch(tuned, paddedBatch('classification'), 5, 0.05);
      return tf.clone(tuned.trainableParameters()[0]!.value);
    });
    const autoencoder = trainIptAutoencoder(sourcePrompts, { intrinsicDim: 2, decoderHiddenSize: 16, steps: 100 });
    const model = tinyBert();
    const tuned = peft(model, [ipt({ numVirtualTokens: 3, intrinsicDim: 2, decoderHiddenSize: 16 })]);
    setIptDecoder(tuned, autoencoder.decoder);
    expect(tuned.trainableParameters().map((parameter) => parameter.shape)).toEqual([[2]]);
    const decoderBefore = model.getParameter('embeddings.prompt.default_ipt.decoder.up.weight').variable.dataSync().slice();
    const { before, after } = trainOnBatch(tuned, paddedBatch('classification'), 40, 0.1);
    expect(after).toBeLessThan(before - 0.1);
    expect(model.getParameter('embeddings.prompt.default_ipt.decoder.up.weight').variable.dataSync()).toEqual(decoderBefore);
    const z = model.getParameter('embeddings.prompt.default_ipt.intrinsic').value;
    const expected = tf.tidy(() => autoencoder.decoder.forward(z.reshape([1, 2])).reshape([3, 16]));
    const prompt = tf.tidy(() => (model.getModule('embeddings.prompt.default_ipt') as unknown as { rows(): tf.Tensor }).rows());
    expect(maxAbsDifference(prompt, expected)).toBeLessThan(1e-6);
    autoencoder.dispose();
  });

  it('has tape gradients for z equal to finite differences', () => {
    const model = tinyBert();
    model.eval();
    const tuned = peft(model, [ipt({ numVirtualTokens: 3, intrinsicDim: 4, decoderHiddenSize: 8 })]);
    tf.tidy(() => tuned.trainableParameters()[0]!.assign(tf.randomNormal([4], 0, 1, 'float32', 3)));
    checkGradientByFiniteDifferences(tuned.trainableParameters()[0]!, weightedHiddenLoss(tuned, paddedBatch('classification')), [0, 1, 2, 3], { tolerance: 5e-4 });
  });
});
