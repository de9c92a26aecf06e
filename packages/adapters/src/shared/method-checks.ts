import { peft, tf, type MethodConfig, type Parameter, type PeftModel } from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { describe, expect, it } from 'vitest';
import { createTrainingBase, evalLoss, finiteDifferenceCheck, projectedOutputLoss, randomizeTrainable, trainSteps } from './test-support';

export interface MethodCheckOptions {
  /** The configured method(s) to check. */
  methods: () => MethodConfig[];
  /** The methods of the gradient check (default `methods`): use a smooth non-linearity there, since a ReLU kink crossed by the finite-difference step breaks the comparison. */
  gradientMethods?: () => MethodConfig[];
  /** Picks the parameter whose gradient is checked (default: the first trainable one). */
  gradientParameter?: (tuned: PeftModel<ConformanceModel>) => Parameter;
  /** Steps and learning rate of the training test. */
  steps?: number;
  learningRate?: number;
  /** The trained loss must fall below this fraction of the frozen loss. */
  lossRatio?: number;
  /** Adjusts the model before the gradient check (e.g. turns training-time randomness off). */
  beforeGradientCheck?: (tuned: PeftModel<ConformanceModel>) => void;
}

/**
 * The checks every adapter method runs besides conformance, on BERT and GPT-2: a finite-difference
 * gradient check on an O(1) loss with O(1) adapter weights, and a training run that moves the
 * task loss well below the frozen model's.
 */
export function describeMethodChecks(name: string, options: MethodCheckOptions): void {
  for (const kind of ['bert', 'gpt'] as const) {
    describe(`${name} on ${kind === 'bert' ? 'BERT' : 'GPT-2'}`, () => {
      it('has gradients that match central finite differences on an O(1) loss', () => {
        const base = createTrainingBase(kind);
        base.eval();
        const batch = conformanceBatch(base, { batch: 2, seq: 5, seed: 3 });
        const tuned = peft(base, (options.gradientMethods ?? options.methods)());
        tuned.model.eval();
        randomizeTrainable(tuned, 0.5);
        options.beforeGradientCheck?.(tuned);
        const parameter = options.gradientParameter?.(tuned) ?? tuned.trainableParameters()[0]!;
        const loss = projectedOutputLoss(tuned, batch);
        const entries = [0, Math.floor(parameter.size / 2), parameter.size - 1];
        const { analytic, numeric } = finiteDifferenceCheck(loss, parameter, entries);
        // The compared gradients are O(0.1–10), far above the float32 finite-difference error.
        expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(0.05);
        if (process.env.DEBUG_FD) console.log(name, kind, analytic, numeric);
        analytic.forEach((value, i) => expect(Math.abs(value - numeric[i]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(value))));
        (loss as unknown as { dispose(): void }).dispose();
        disposeBatch(batch);
        base.dispose();
      });

      it('trains to a loss the frozen model does not reach', () => {
        const base = createTrainingBase(kind);
        base.eval();
        const batch = conformanceBatch(base, { batch: 6, seq: 6, seed: 11 });
        const frozen = evalLoss(base, batch);
        const tuned = peft(base, options.methods());
        trainSteps(tuned, batch, options.steps ?? 40, options.learningRate ?? 0.02);
        const trained = evalLoss(tuned, batch);
        expect(frozen).toBeGreaterThan(0.5);
        expect(trained).toBeLessThan(frozen * (options.lossRatio ?? 0.5));
        disposeBatch(batch);
        base.dispose();
      });
    });
  }
  it(`${name}: its tensors are all released by dispose`, () => {
    const before = tf.memory().numTensors;
    const base = createTrainingBase('bert');
    const tuned = peft(base, options.methods());
    tuned.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
}
