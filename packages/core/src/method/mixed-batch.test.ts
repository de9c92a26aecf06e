import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import type { ModelInputs, ModelOutput } from '../models/types';
import { tf } from '../nn/tf';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '../testing/conformance-fixtures';
import { BASE_ADAPTER_NAME } from './mixed-batch';
import { peft, type PeftModel } from './peft-model';
import { addShift, scaleVector } from './test-fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Two non-LoRA adapters (a scale vector and a constant shift): mixed batches need only setEnabled. */
function twoAdapters(): { model: ConformanceModel; tuned: PeftModel<ConformanceModel> } {
  const model = createConformanceBert();
  const tuned = peft(model, [scaleVector({ targets: { roles: ['attention.value'] }, init: 1.7 })], { adapterName: 'scale' });
  tuned.addAdapter('shift', [addShift({ targets: { roles: ['ffn.down'] }, size: 16, value: 0.4 })]);
  // A constant shift would vanish in the LayerNorm after the residual: make it vary per feature.
  for (const { applied } of tuned.entries('shift')) for (const parameter of applied.parameters()) parameter.assign(tf.randomNormal(parameter.shape, 0, 1, 'float32', 3));
  model.eval();
  return { model, tuned };
}

/** Rows of the logits and flattened last hidden states. */
function rows(output: ModelOutput): { logits: number[][]; hidden: number[][] } {
  const batch = output.logits.shape[0]!;
  return { logits: output.logits.arraySync() as number[][], hidden: output.lastHiddenState.reshape([batch, -1]).arraySync() as number[][] };
}

function caught(fn: () => unknown): PeftError {
  try {
    fn();
  } catch (error) {
    if (PeftError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a PeftError');
}

describe('forwardMixedBatch', () => {
  it('matches a per-adapter forward row by row (adapters and base), restores the state, leaks nothing', () => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 5 });
    const names = ['shift', 'scale', BASE_ADAPTER_NAME, 'shift', 'scale'];
    const single = (adapter: string) => {
      if (adapter === BASE_ADAPTER_NAME) tuned.disable();
      else tuned.setAdapter(adapter);
      const output = tuned.forward(batch);
      tuned.enable();
      const result = rows(output);
      tf.dispose([output.logits, output.lastHiddenState]);
      return result;
    };
    const reference = Object.fromEntries(['scale', 'shift', BASE_ADAPTER_NAME].map((adapter) => [adapter, single(adapter)]));
    // The three references differ row by row, so a row taken from the wrong group would fail below.
    const gap = (x: string, y: string) => Math.max(...reference[x]!.hidden[0]!.map((value, j) => Math.abs(value - reference[y]!.hidden[0]![j]!)));
    expect(Math.min(gap('scale', 'shift'), gap('scale', BASE_ADAPTER_NAME), gap('shift', BASE_ADAPTER_NAME))).toBeGreaterThan(1e-3);

    tuned.setAdapter('shift');
    tuned.disable();
    const output = tuned.forwardMixed(batch, names);
    const mixed = rows(output);
    tf.dispose([output.logits, output.lastHiddenState]);
    for (const key of ['logits', 'hidden'] as const) {
      names.forEach((adapter, row) => mixed[key][row]!.forEach((value, j) => expect(value).toBeCloseTo(reference[adapter]![key][row]![j]!, 5)));
    }
    expect(tuned.activeAdapter).toBe('shift');
    expect(tuned.isEnabled).toBe(false);

    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const again = tuned.forwardMixed(batch, names);
      tf.dispose([again.logits, again.lastHiddenState]);
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeBatch(batch);
    model.dispose();
  });

  it('restores the active adapter and enabled state when a group fails', () => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 3 });
    const forward = model.forward.bind(model);
    let calls = 0;
    // The second group's forward throws, after the first switched adapters.
    (model as unknown as { forward(inputs: ModelInputs): ModelOutput }).forward = (inputs) => {
      if (++calls === 2) throw new Error('boom');
      return forward(inputs);
    };
    expect(() => tuned.forwardMixed(batch, ['shift', BASE_ADAPTER_NAME, 'scale'])).toThrow('boom');
    expect(tuned.activeAdapter).toBe('scale');
    expect(tuned.isEnabled).toBe(true);
    disposeBatch(batch);
    model.dispose();
  });

  it('refuses a wrong count, unknown names, training mode and a merged model, naming the field', () => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 2 });
    expect(caught(() => tuned.forwardMixed(batch, ['scale'])).field).toBe('adapterNames');
    const unknown = caught(() => tuned.forwardMixed(batch, ['scale', 'nope']));
    expect([unknown.field, unknown.value]).toEqual(['adapterNames', 'nope']);
    expect(unknown.allowed).toEqual(expect.arrayContaining(['scale', 'shift', BASE_ADAPTER_NAME]));
    model.train();
    expect(caught(() => tuned.forwardMixed(batch, ['scale', 'shift'])).field).toBe('model.training');
    model.eval();
    tuned.merge();
    expect(caught(() => tuned.forwardMixed(batch, ['scale', 'shift'])).field).toBe('merged');
    tuned.unmerge();
    disposeBatch(batch);
    model.dispose();
  });
});
