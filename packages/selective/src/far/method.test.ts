import { createBert, peft, setGlobalSeed, tf, train, type Linear, type TaskModel } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { far } from './method';
import { topUnits, unitChange } from './select-units';
import type { SplitLinear } from './split-linear';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const FFN = ['encoder.layers.0.ffn.up', 'encoder.layers.0.ffn.down', 'encoder.layers.1.ffn.up', 'encoder.layers.1.ffn.down'];

describe('far', () => {
  it('calibration keeps the units an independent SGD priming moved most', async () => {
    const batch = conformanceBatch(createConformanceBert(), { batch: 4, seed: 2 });
    // Reference: prime a plain copy of the model by hand with the same SGD steps.
    const reference = createConformanceBert();
    reference.eval();
    const linears = FFN.map((path) => reference.getModule(path) as Linear);
    const tensors = linears.flatMap((linear) => [linear.weight, linear.bias!]);
    const before = tensors.map((parameter) => parameter.value.clone());
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(() => reference.taskLoss(reference.forward(batch), batch.labels!, batch.attentionMask) as tf.Scalar, tensors.map((parameter) => parameter.variable));
      tf.tidy(() => tensors.forEach((parameter) => parameter.assign(tf.sub(parameter.value, tf.mul(grads[parameter.variable.name]!, 0.05)))));
      tf.dispose([value, ...Object.values(grads)]);
    }
    const expected = linears.map((linear, i) => {
      const change = unitChange({ weight: before[2 * i] as tf.Tensor2D, bias: before[2 * i + 1] as tf.Tensor1D }, { weight: linear.weight.value as tf.Tensor2D, bias: linear.bias!.value as tf.Tensor1D });
      // Priming moved every unit, by distinct amounts: the ranking means something.
      expect(Math.min(...change)).toBeGreaterThan(1e-6);
      expect(new Set(change).size).toBe(change.length);
      return topUnits(change, Math.round(0.25 * linear.outFeatures));
    });

    const model = createConformanceBert();
    const tuned = peft(model, [far({ fraction: 0.25, primingSteps: 3, primingLearningRate: 0.05 })]);
    const weightsBefore = FFN.map((path) => Array.from((model.getModule(path) as SplitLinear).base.weight.value.dataSync()));
    await train(tuned, { data: [batch], maxSteps: 1, learningRate: 0, calibrationBatches: 1 });
    FFN.forEach((path, i) => {
      const layer = model.getModule(path) as SplitLinear;
      expect(layer.units, path).toEqual(expected[i]);
      // Priming leaves the base weights as they were.
      expect(Array.from(layer.base.weight.value.dataSync())).toEqual(weightsBefore[i]);
    });
    disposeBatch(batch);
    tf.dispose(before);
    model.dispose();
    reference.dispose();
  });

  it('trains only the chosen units: after merging, other columns are the base ones and chosen ones moved', async () => {
    const model = createConformanceBert();
    const batch = conformanceBatch(model, { batch: 4 });
    const tuned = peft(model, [far({ fraction: 0.25, trainHead: false })]);
    const originals = FFN.map((path) => (model.getModule(path) as SplitLinear).base.weight.value.arraySync() as number[][]);
    const originalBiases = FFN.map((path) => Array.from((model.getModule(path) as SplitLinear).base.bias!.value.dataSync()));
    await train(tuned, { data: [batch], maxSteps: 3, learningRate: 1e-2, calibrationBatches: 1 });
    const trainable = tuned.trainableParameters().reduce((sum, parameter) => sum + parameter.size, 0);
    // 2 layers × (up: 16 × 8 + 8, down: 32 × 4 + 4) with 32 FFN units and hidden 16.
    expect(trainable).toBe(2 * (16 * 8 + 8 + 32 * 4 + 4));
    tuned.merge();
    FFN.forEach((path, i) => {
      const layer = model.getModule(path) as SplitLinear;
      const units = new Set(layer.units);
      const merged = layer.base.weight.value.arraySync() as number[][];
      let moved = 0;
      merged.forEach((row, r) => row.forEach((value, c) => {
        if (units.has(c)) moved += value !== originals[i]![r]![c] ? 1 : 0;
        else expect(value).toBe(originals[i]![r]![c]);
      }));
      // Adam moves every entry whose gradient is not zero: the whole slice.
      expect(moved).toBe(units.size * merged.length);
      const bias = Array.from(layer.base.bias!.value.dataSync());
      bias.forEach((value, c) => (units.has(c) ? expect(value).not.toBe(originalBiases[i]![c]) : expect(value).toBe(originalBiases[i]![c])));
    });
    // Changed entries of the merged model: exactly the trained slices (weights and biases), nothing else.
    expect(tuned.report().changed).toBe(trainable);
    disposeBatch(batch);
    model.dispose();
  });

  it('saves its state and reports without allocating tensors each time', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [far({ fraction: 0.25, selection: 'random' })]);
    tuned.report();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tuned.report();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('fits a task the frozen model cannot: loss from chance to near zero', async () => {
    setGlobalSeed(5);
    const model = createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 2, initStd: 0.3 });
    const batch = conformanceBatch(model as unknown as ConformanceModel, { batch: 12, seq: 8, seed: 21 });
    model.eval();
    const lossOf = (target: TaskModel) => tf.tidy(() => target.taskLoss(target.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const frozenLoss = lossOf(model);
    const tuned = peft(model, [far({ fraction: 0.25, trainHead: false })]);
    await train(tuned, { data: [batch], maxSteps: 80, learningRate: 0.02, schedule: 'constant', calibrationBatches: 1 });
    tuned.model.eval();
    expect(frozenLoss).toBeGreaterThan(0.6);
    expect(lossOf(tuned)).toBeLessThan(0.2);
    disposeBatch(batch);
    model.dispose();
  });
});
