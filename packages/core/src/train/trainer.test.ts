import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PeftError } from '../errors/peft-error';
import type { AppliedMethod, CalibrationContext, StepInfo } from '../method/types';
import { expectClose } from '../models/test-support';
import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { exampleBatches, disposeBatch } from './example-batches';
import { evaluate } from './evaluate';
import { fullFineTuning } from './full-fine-tuning';
import { computeMetrics } from './metrics/compute-metrics';
import { makeBatches, makeTinyClassifier, snapshot, type TinyClassifier } from './test-support';
import { train, Trainer } from './trainer';
import type { TrainEvent, TrainingTarget } from './types';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const batches = makeBatches(4);

/** A target training the model's trainable parameters with the given methods. */
function targetOf(model: TinyClassifier, methods: AppliedMethod[] = []): TrainingTarget {
  return { model, trainableParameters: () => model.trainableParameters(), appliedMethods: () => methods };
}

/** A test method: counts and records its hook calls. */
function recordingMethod(overrides: Partial<AppliedMethod> = {}): AppliedMethod & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: 'test/recording',
    claims: [],
    calls,
    parameters: () => [],
    state: () => ({}),
    load: () => undefined,
    ...overrides,
  };
}

describe('Trainer', () => {
  it('one step equals a hand-made step: gradients of the mean loss, then Adam', async () => {
    const model = makeTinyClassifier(1, 0);
    await train(fullFineTuning(model), { data: batches.slice(0, 2), shuffle: false, maxSteps: 2, learningRate: 0.05, schedule: 'constant', maxGradNorm: null });

    const reference = makeTinyClassifier(1, 0);
    const variables = reference.parameters().map((p) => p.variable);
    const adam = tf.train.adam(0.05, 0.9, 0.999, 1e-8);
    for (const batch of batches.slice(0, 2)) {
      const { value, grads } = tf.variableGrads(() => reference.taskLoss(reference.forward(batch), batch.labels!), variables);
      adam.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      value.dispose();
      tf.dispose(Object.values(grads));
    }
    adam.dispose();
    const trained = snapshot(model);
    const expected = snapshot(reference);
    for (const path of Object.keys(expected)) expectClose(trained[path]!, expected[path]!, 2e-6);
    expect(trained['classifier.weight']).not.toEqual(snapshot(makeTinyClassifier(1, 0))['classifier.weight']);
  });

  it('reduces the loss, follows the schedule, and reports step events', async () => {
    const events: TrainEvent[] = [];
    const result = await train(fullFineTuning(makeTinyClassifier()), {
      data: batches,
      epochs: 5,
      learningRate: 0.05,
      warmupSteps: 2,
      onEvent: (event) => events.push(event),
    });
    expect(result.totalSteps).toBe(20);
    const steps = events.filter((e): e is Extract<TrainEvent, { type: 'step' }> => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // Linear warmup over 2 then decay over 18: 0, 0.025, 0.05, 0.05·17/18, ...
    expectClose(steps.slice(0, 4).map((e) => e.learningRate), [0, 0.025, 0.05, (0.05 * 17) / 18], 1e-12);
    expect(steps.map((e) => e.epoch)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(result.losses.slice(-4))).toBeLessThan(mean(result.losses.slice(0, 4)));
    expect(events[0]!.type).toBe('start');
    expect(events.at(-1)).toEqual({ type: 'end', step: 20, totalSteps: 20, stopped: false });
  });

  it('is deterministic for a seed (data order and dropout) and differs for another', async () => {
    const run = async (seed: number) => (await train(fullFineTuning(makeTinyClassifier(1, 0.3)), { data: batches, epochs: 2, learningRate: 0.05, seed })).losses;
    const first = await run(5);
    expect(await run(5)).toEqual(first);
    expect(await run(6)).not.toEqual(first);
  });

  it('never requests gradients for frozen parameters and never changes them', async () => {
    const model = makeTinyClassifier();
    model.child('embedding').freeze();
    model.child('norm').freeze();
    const frozenBefore = snapshot(model);
    const gradientsSpy = vi.spyOn(tf.engine(), 'gradients');
    await train(targetOf(model), { data: batches, epochs: 1, learningRate: 0.05, weightDecay: 0.1 });
    expect(gradientsSpy).toHaveBeenCalledTimes(4);
    const trainable = new Set(model.trainableParameters().map((p) => p.variable));
    for (const call of gradientsSpy.mock.calls) {
      const requested = call[1] as tf.Tensor[];
      expect(requested).toHaveLength(2);
      for (const variable of requested) expect(trainable.has(variable as tf.Variable)).toBe(true);
    }
    const after = snapshot(model);
    for (const path of ['embedding.weight', 'norm.gamma', 'norm.beta']) expect(after[path]).toEqual(frozenBefore[path]);
    expect(after['classifier.weight']).not.toEqual(frozenBefore['classifier.weight']);
  });

  it('calls the hooks at the right moments with the right arguments', async () => {
    const model = makeTinyClassifier();
    const trainable = model.trainableParameters();
    let forwardsBeforeCalibration = -1;
    const afterSteps: Array<{ step: number; totalSteps: number; keys: Parameter[]; classifierMoved: boolean }> = [];
    let lastClassifier = snapshot(model)['classifier.weight'];
    const method = recordingMethod({
      calibrate(context: CalibrationContext) {
        forwardsBeforeCalibration = model.forwardModes.length;
        method.calls.push(`calibrate:${context.batches.length}`);
        const loss = context.loss(context.batches[0]!);
        expect(loss.rank).toBe(0);
        loss.dispose();
      },
      transformGradients(gradients) {
        method.calls.push('transform');
        expect([...gradients.keys()]).toEqual(trainable);
        return gradients;
      },
      afterStep(info: StepInfo) {
        method.calls.push('afterStep');
        const current = snapshot(model)['classifier.weight'];
        afterSteps.push({ step: info.step, totalSteps: info.totalSteps, keys: [...info.gradients.keys()], classifierMoved: current !== undefined && current.join() !== lastClassifier!.join() });
        lastClassifier = current;
      },
    });
    await train(targetOf(model, [method]), { data: batches, epochs: 1, learningRate: 0.05, calibrationBatches: 3 });
    expect(forwardsBeforeCalibration).toBe(0);
    expect(method.calls).toEqual(['calibrate:3', 'transform', 'afterStep', 'transform', 'afterStep', 'transform', 'afterStep', 'transform', 'afterStep']);
    expect(afterSteps.map((s) => [s.step, s.totalSteps])).toEqual([[1, 4], [2, 4], [3, 4], [4, 4]]);
    expect(afterSteps.every((s) => s.classifierMoved && s.keys.length === trainable.length)).toBe(true);
  });

  it('a transformGradients that zeros gradients leaves weights unchanged except for weight decay', async () => {
    const model = makeTinyClassifier();
    const before = snapshot(model);
    const zeroing = recordingMethod({ transformGradients: (gradients) => new Map([...gradients].map(([p, g]) => [p, tf.zerosLike(g)])) });
    const seen: StepInfo[] = [];
    const checker = recordingMethod({ afterStep: (info) => void seen.push({ ...info, gradients: new Map([...info.gradients].map(([p, g]) => [p, tf.keep(g.clone())])) }) });
    await train(targetOf(model, [zeroing, checker]), { data: batches, maxSteps: 3, learningRate: 0.1, weightDecay: 0.5, schedule: 'constant' });
    const after = snapshot(model);
    // Decay multiplies weights by (1 − lr·λ) each step; bias, gamma, beta have no decay.
    for (const path of ['embedding.weight', 'classifier.weight']) expectClose(after[path]!, before[path]!.map((w) => w * (1 - 0.05) ** 3), 1e-6);
    for (const path of ['norm.gamma', 'norm.beta', 'classifier.bias']) expect(after[path]).toEqual(before[path]);
    expect(seen).toHaveLength(3);
    for (const info of seen) for (const gradient of info.gradients.values()) expect(Math.max(...Array.from(gradient.dataSync()).map(Math.abs))).toBe(0);
    tf.dispose(seen.flatMap((info) => [...info.gradients.values()]));
  });

  it('adds the regularization term to the recorded loss', async () => {
    const plain = await train(fullFineTuning(makeTinyClassifier(1, 0)), { data: batches, maxSteps: 1, learningRate: 0.05 });
    const model = makeTinyClassifier(1, 0);
    const weight = model.getParameter('classifier.weight');
    // λ·Σw²: adds to the loss and its gradient 2λw pulls the weights.
    const regularized = recordingMethod({ regularization: () => tf.mul(tf.sum(tf.square(weight.value)), 10) as tf.Scalar });
    const expectedTerm = 10 * Array.from(weight.value.dataSync()).reduce((sum, w) => sum + w * w, 0);
    const result = await train(targetOf(model, [regularized]), { data: batches, maxSteps: 1, learningRate: 0.05 });
    expect(result.losses[0]! - plain.losses[0]!).toBeCloseTo(expectedTerm, 4);
  });

  it('switches the model to train mode for steps and eval mode for evaluation', async () => {
    const model = makeTinyClassifier();
    model.eval();
    const result = await train(fullFineTuning(model), { data: batches, epochs: 1, learningRate: 0.05, evalData: batches.slice(0, 2), evalEvery: 2 });
    // Steps 1-2 (train), eval at 2 (2 batches), steps 3-4, eval at 4 (the end; not repeated).
    expect(model.forwardModes).toEqual([true, true, false, false, true, true, false, false]);
    expect(result.evaluations.map((e) => e.step)).toEqual([2, 4]);
    expect(model.training).toBe(false);
  });

  it('evaluates with the task metrics', () => {
    const model = makeTinyClassifier();
    const metrics = evaluate({ model }, batches);
    model.eval();
    const predictions: number[] = [];
    const labels: number[] = [];
    let loss = 0;
    for (const batch of batches) {
      const output = model.forward(batch);
      predictions.push(...output.logits.argMax(-1).dataSync());
      labels.push(...batch.labels!.dataSync());
      loss += model.taskLoss(output, batch.labels!).dataSync()[0]! / batches.length;
    }
    expect(metrics).toEqual({ ...computeMetrics('sequence-classification', predictions, labels), loss: expect.closeTo(loss, 6) });
  });

  it('throws non-finite-loss naming the step, before updating', async () => {
    const model = makeTinyClassifier();
    let calls = 0;
    const poison = recordingMethod({ regularization: () => tf.scalar(++calls === 3 ? Number.NaN : 0) });
    let afterTwo: Record<string, number[]> = {};
    const error = await train(targetOf(model, [poison]), {
      data: batches,
      epochs: 1,
      learningRate: 0.05,
      onEvent: (event) => {
        if (event.type === 'step' && event.step === 2) afterTwo = snapshot(model);
      },
    }).catch((e: unknown) => e);
    expect(PeftError.hasCode(error, 'non-finite-loss')).toBe(true);
    expect((error as Error).message).toContain('step 3');
    expect(snapshot(model)).toEqual(afterTwo);
  });

  it('keeps memory flat across steps', async () => {
    const counts: number[] = [];
    const data = exampleBatches(
      Array.from({ length: 12 }, (_, i) => ({ inputIds: [i % 12, (i * 5) % 12, 3].slice(0, 1 + (i % 3)), labels: i % 2 })),
      { batchSize: 3 },
    );
    const before = tf.memory().numTensors;
    const model = makeTinyClassifier();
    const modelTensors = tf.memory().numTensors - before;
    const trainer = new Trainer(fullFineTuning(model), {
      data,
      maxSteps: 8,
      gradientAccumulationSteps: 2,
      learningRate: 0.05,
      onEvent: (event) => {
        if (event.type === 'step') counts.push(tf.memory().numTensors);
      },
    });
    await trainer.train();
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
    expect(tf.memory().numTensors - before).toBe(modelTensors);
    model.dispose();
  });

  it('averages gradient accumulation: 2 micro-batches of B equal one batch of 2B', async () => {
    const [a, b] = batches as [typeof batches[0], typeof batches[0]];
    const joined = { inputIds: tf.concat([a.inputIds, b.inputIds]), attentionMask: tf.concat([a.attentionMask!, b.attentionMask!]), labels: tf.concat([a.labels!, b.labels!]) };
    const options = { maxSteps: 2, learningRate: 0.05, shuffle: false, maxGradNorm: null, schedule: 'constant' as const };
    const accumulated = makeTinyClassifier(1, 0);
    const resultAccumulated = await train(fullFineTuning(accumulated), { ...options, data: [a, b], gradientAccumulationSteps: 2 });
    const single = makeTinyClassifier(1, 0);
    const resultSingle = await train(fullFineTuning(single), { ...options, data: [joined] });
    const x = snapshot(accumulated);
    const y = snapshot(single);
    for (const path of Object.keys(y)) expectClose(x[path]!, y[path]!, 1e-6);
    expect(resultAccumulated.losses[0]).toBeCloseTo(resultSingle.losses[0]!, 6);
    disposeBatch(joined);
  });

  it('fullFineTuning trains every parameter', () => {
    const model = makeTinyClassifier();
    model.freeze();
    const target = fullFineTuning(model);
    expect(target.trainableParameters()).toHaveLength(5);
    expect(target.appliedMethods()).toEqual([]);
  });

  it('rejects bad options with the field named', () => {
    const target = fullFineTuning(makeTinyClassifier());
    expect(() => new Trainer(target, { data: () => [] })).toThrow(expect.objectContaining({ field: 'maxSteps' }));
    expect(() => new Trainer(target, { data: batches, gradientAccumulationSteps: 0 })).toThrow(expect.objectContaining({ field: 'gradientAccumulationSteps' }));
    const model = makeTinyClassifier();
    model.freeze();
    expect(() => new Trainer(targetOf(model), { data: batches })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
