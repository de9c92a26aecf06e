import { beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { definePeftMethod } from '../method/define-method';
import { peft } from '../method/peft-model';
import { BertModel } from '../models/bert-model';
import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { setGlobalSeed } from '../util/random';
import { batchExamples, exampleBatches } from './example-batches';
import { train } from './trainer';
import type { TrainingTarget } from './types';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A BitFit-like test method: trains every bias of the model. */
const biasOnly = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/bias-only',
  packageName: '@peftjs/core',
  kind: 'selective',
  configSchema: z.object({}),
  apply(model) {
    const biases = model.namedParameters().filter(([, parameter]) => parameter.kind === 'bias');
    for (const [, parameter] of biases) parameter.trainable = true;
    const parameters = biases.map(([, parameter]) => parameter);
    return {
      name: 'test/bias-only',
      claims: biases.map(([path]) => ({ kind: 'train' as const, path })),
      parameters: () => parameters,
      state: () => Object.fromEntries(biases.map(([path, parameter]) => [path, parameter.value])),
      load: (state) => biases.forEach(([path, parameter]) => parameter.assign(state[path]!)),
    };
  },
});

describe('Trainer with the reference BERT and a PeftModel', () => {
  it('trains only the method parameters of a PeftModel, with flat memory', async () => {
    setGlobalSeed(11);
    const bert = new BertModel({ vocabSize: 30, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 16, task: 'sequence-classification' });
    const model = peft(bert, [biasOnly()]);
    const target: TrainingTarget = model; // PeftModel satisfies TrainingTarget structurally
    const trainable = new Set<Parameter>(model.trainableParameters());
    const before = new Map(bert.parameters().map((p) => [p, Array.from(p.value.dataSync())]));
    const examples = Array.from({ length: 16 }, (_, i) => ({ inputIds: [1, 2 + (i % 20), 3 + ((i * 7) % 20), 4].slice(0, 2 + (i % 3)), labels: (i % 20) >= 10 ? 1 : 0 }));
    const gradientsSpy = vi.spyOn(tf.engine(), 'gradients');
    const counts: number[] = [];
    const result = await train(target, {
      data: exampleBatches(examples, { batchSize: 4 }),
      maxSteps: 5,
      learningRate: 0.01,
      evalData: batchExamples(examples, { batchSize: 8 }),
      onEvent: (event) => {
        if (event.type === 'step') counts.push(tf.memory().numTensors);
      },
    });
    expect(result.losses.every(Number.isFinite)).toBe(true);
    expect(Object.keys(result.evaluations[0]!.metrics).sort()).toEqual(['accuracy', 'f1', 'loss', 'matthews']);
    // One gradient call per step: the loops below must have something to check.
    expect(gradientsSpy.mock.calls).toHaveLength(5);
    for (const call of gradientsSpy.mock.calls) expect((call[1] as tf.Tensor[]).length).toBe(trainable.size);
    const trainableVariables = new Set([...trainable].map((p) => p.variable));
    for (const call of gradientsSpy.mock.calls) for (const v of call[1] as tf.Tensor[]) expect(trainableVariables.has(v as tf.Variable)).toBe(true);
    expect([...trainable].every((p) => p.kind === 'bias')).toBe(true);
    for (const [parameter, values] of before) {
      if (trainable.has(parameter)) continue;
      expect(Array.from(parameter.value.dataSync())).toEqual(values);
    }
    expect([...trainable].some((p) => Array.from(p.value.dataSync()).some((v, i) => v !== before.get(p)![i]))).toBe(true);
    expect(new Set(counts.slice(1)).size).toBe(1);
    gradientsSpy.mockRestore();
  });
});
