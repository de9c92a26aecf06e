import { peft, tf, type MethodConfig } from '@peftjs/core';
import { createConformanceBert } from '@peftjs/core/testing';
import { expect, it } from 'vitest';
import { gradientCheck, perturbTrainable, sparseDeltaOf, trainBriefly } from './test-support';

/**
 * The checks every sparse-delta method runs beside conformance: a finite-difference check of δ's
 * gradient on an O(1) loss, and a trainer run (calibration included) that lowers the loss and
 * leaves trainable = changed = k + head entries after merge, with a flat tensor count.
 */
export function sparseMethodChecks(make: () => MethodConfig, options: { steps?: number; learningRate?: number } = {}): void {
  it("δ's gradient matches central differences on an O(1) loss", () => {
    const model = createConformanceBert();
    const tuned = peft(model, [make()]);
    tuned.model.eval();
    perturbTrainable(tuned);
    const delta = sparseDeltaOf(tuned);
    const entries = Array.from({ length: Math.min(6, delta.size) }, (_, i) => Math.floor((i * delta.size) / Math.min(6, delta.size)));
    const { analytic, numeric } = gradientCheck(tuned, delta.values, entries);
    expect(Math.max(...analytic.map(Math.abs))).toBeGreaterThan(0.02);
    analytic.forEach((value, i) => expect(Math.abs(value - numeric[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(value)));
    model.dispose();
  });

  it('trains with the trainer: the loss drops, trainable = changed = k (+ head) after merge, tensors stay flat', async () => {
    const { tuned, before, after, result, release } = await trainBriefly([make()], options);
    const delta = sparseDeltaOf(tuned);
    expect(result.step).toBeGreaterThan(0);
    expect(after).toBeLessThan(before - 0.05);
    const report = tuned.report();
    const head = tuned.trainableParameters().filter((p) => p !== delta.values).reduce((n, p) => n + p.size, 0);
    expect(report.trainable).toBe(delta.size + head);
    tuned.merge();
    expect(tuned.report().changed).toBe(delta.size + head);
    tuned.unmerge();
    const forward = () => tf.tidy(() => void tuned.forward({ inputIds: tf.tensor2d([[1, 2, 3]], [1, 3], 'int32') }));
    forward(); // the first forward at a new length may cache position tensors
    const tensors = tf.memory().numTensors;
    forward();
    expect(tf.memory().numTensors).toBe(tensors);
    release();
  });
}
