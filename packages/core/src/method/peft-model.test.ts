import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { peft } from './peft-model';
import {
  ScaledLinear,
  ShiftedModule,
  TINY_MODEL_BIASES,
  TinyModel,
  addShift,
  biasOnly,
  maxAbsDifference,
  prefixSlot,
  sampleInput,
  scaleVector,
  type TinyAttention,
} from './test-fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function caught(fn: () => unknown): PeftError {
  try {
    fn();
  } catch (error) {
    if (PeftError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a PeftError');
}

const size = (parameters: readonly Parameter[]): number => parameters.reduce((n, p) => n + p.size, 0);
const values = (model: TinyModel): number[][] => model.namedParameters().map(([, p]) => Array.from(p.variable.dataSync()));

/** The base model's output, from an identical fresh model (same seed). */
function baseOutput(): number[] {
  const model = new TinyModel();
  const x = sampleInput();
  const y = model.forward(x);
  const out = Array.from(y.dataSync());
  tf.dispose([x, y]);
  model.dispose();
  return out;
}

function run(forward: (x: tf.Tensor) => tf.Tensor): { tensor: tf.Tensor; values: number[] } {
  const x = sampleInput();
  const tensor = forward(x);
  x.dispose();
  return { tensor, values: Array.from(tensor.dataSync()) };
}

function setScale(model: TinyModel, path: string, scale: number[]): void {
  model.getModule<ScaledLinear>(path).parameter('scale').assign(tf.tensor1d(scale));
}

describe('peft()', () => {
  it('freezes the whole base model, then trains exactly what the methods select', () => {
    const model = new TinyModel();
    expect(model.trainableParameters()).toHaveLength(model.parameters().length);
    const tuned = peft(model, [biasOnly()]);
    const trainable = tuned.trainableParameters();
    expect(size(trainable)).toBe(TINY_MODEL_BIASES);
    expect(trainable.every((p) => p.kind === 'bias')).toBe(true);
    expect(model.parameters().filter((p) => p.trainable && p.kind !== 'bias')).toEqual([]);
    expect(tuned.appliedMethods().map((m) => m.name)).toEqual(['test/bias-only']);
    model.dispose();
  });

  it('returns the deduplicated union of every method\'s trainable parameters', () => {
    const model = new TinyModel();
    const tuned = peft(model, [biasOnly(), biasOnly({ targets: { paths: ['head.bias'] } }), scaleVector()]);
    // 4 scale vectors of 4 (value and ffn.down in 2 layers); head.bias is trained by two methods but listed once.
    expect(size(tuned.trainableParameters())).toBe(TINY_MODEL_BIASES + 4 * 4);
    expect(new Set(tuned.trainableParameters()).size).toBe(tuned.trainableParameters().length);
    expect(model.getParameter('encoder.layers.0.attention.value.base.weight').trainable).toBe(false);
    model.dispose();
  });

  it('rejects an empty list and an uncalled method with a hint', () => {
    const model = new TinyModel();
    expect(caught(() => peft(model, [])).code).toBe('invalid-argument');
    expect(caught(() => peft(model, [biasOnly as never])).message).toContain('call the method');
    model.dispose();
  });

  it('detects two methods filling one slot, names both and the slot, and restores the model', () => {
    const model = new TinyModel();
    const error = caught(() => peft(model, [prefixSlot(), prefixSlot({ targets: { moduleTypes: ['TinyAttention'], layers: [1] } })]));
    expect(error.code).toBe('composition-conflict');
    expect(error.message).toContain('"test/prefix" (adapter "default", method #0)');
    expect(error.message).toContain('"test/prefix" (adapter "default", method #1)');
    expect(error.message).toContain('"encoder.layers.1.attention.prefix"');
    for (const layer of [0, 1]) expect(model.getModule<TinyAttention>(`encoder.layers.${layer}.attention`).prefix).toBeUndefined();
    // The trainable flags are as they were before peft().
    expect(model.trainableParameters()).toHaveLength(model.parameters().length);
    model.dispose();
  });

  it('composes two wraps of one module as wrapper of wrapper, in application order', () => {
    const y0 = baseOutput();
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ targets: { paths: ['head'] }, init: 2 }), addShift({ targets: { paths: ['head'] }, size: 2, value: 1 })]);
    const head = model.getModule('head');
    expect(head).toBeInstanceOf(ShiftedModule);
    expect(head.child('base')).toBeInstanceOf(ScaledLinear);
    const { tensor, values: out } = run((x) => tuned.forward(x));
    // shift(scale(y)) = 2y + 1, not 2(y + 1).
    out.forEach((v, i) => expect(v).toBeCloseTo(2 * y0[i]! + 1, 5));
    tensor.dispose();
    model.dispose();
  });

  it('delegates task and taskLoss to the base model', () => {
    const model = new TinyModel();
    const tuned = peft(model, [biasOnly()]);
    expect(tuned.task).toBe('regression');
    const logits = tf.tensor2d([[1, 0], [3, 0]]);
    const labels = tf.tensor1d([0, 1]);
    const loss = tuned.taskLoss({ logits, lastHiddenState: logits }, labels);
    expect(loss.dataSync()[0]).toBeCloseTo((1 + 4) / 2, 6);
    tf.dispose([logits, labels, loss]);
    model.dispose();
  });

  it('does not leak tensors across repeated forwards', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector(), addShift({ targets: { roles: ['attention.output'] }, size: 4 }), prefixSlot()]);
    const x = sampleInput();
    tuned.forward(x).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tuned.forward(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});

describe('merge / unmerge', () => {
  it('gives the same outputs merged and unmerged (1e-6), and changes the base weights', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector(), biasOnly()]);
    setScale(model, 'encoder.layers.0.attention.value', [0.5, 1.5, -2, 0.25]);
    setScale(model, 'encoder.layers.1.ffn.down', [1.25, 0.75, 3, -1]);
    model.getParameter('head.bias').assign(tf.tensor1d([0.3, -0.2]));
    const active = run((x) => tuned.forward(x));
    const weightBefore = Array.from(model.getParameter('encoder.layers.0.attention.value.base.weight').variable.dataSync());
    tuned.merge();
    expect(tuned.isMerged).toBe(true);
    const merged = run((x) => tuned.forward(x));
    expect(maxAbsDifference(merged.tensor, active.tensor)).toBeLessThan(1e-6);
    const weightMerged = Array.from(model.getParameter('encoder.layers.0.attention.value.base.weight').variable.dataSync());
    // W[:, j] is scaled by s[j]: check one column by hand.
    for (let row = 0; row < 4; row++) expect(weightMerged[row * 4 + 2]).toBeCloseTo(-2 * weightBefore[row * 4 + 2]!, 6);
    tuned.merge(); // a second merge is a no-op
    tuned.unmerge();
    expect(tuned.isMerged).toBe(false);
    const unmerged = run((x) => tuned.forward(x));
    expect(maxAbsDifference(unmerged.tensor, active.tensor)).toBeLessThan(1e-6);
    tf.dispose([active.tensor, merged.tensor, unmerged.tensor]);
    model.dispose();
  });

  it('refuses to merge when a method cannot, naming it, and touches nothing', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ init: 2 }), prefixSlot()]);
    const before = values(model);
    const error = caught(() => tuned.merge());
    expect(error.code).toBe('not-mergeable');
    expect(error.message).toContain('test/prefix');
    expect(error.message).not.toContain('test/scale');
    expect(error.value).toEqual(['test/prefix']);
    expect(values(model)).toEqual(before);
    expect(tuned.isMerged).toBe(false);
    model.dispose();
  });

  it('rolls back a merge that makes weights non-finite, bit for bit, including earlier methods', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ init: 1.5 }), scaleVector({ targets: { paths: ['head'] } })]);
    setScale(model, 'head', [Infinity, 1]);
    const before = values(model);
    const outBefore = run((x) => tuned.forward(x));
    const error = caught(() => tuned.merge());
    expect(error.code).toBe('merge-not-finite');
    expect(error.message).toContain('Merging "test/scale"');
    expect(error.value).toBe('test/scale');
    expect(values(model)).toEqual(before);
    expect(tuned.isMerged).toBe(false);
    // The first method was merged then undone: its wrappers are back in the unmerged state.
    expect(model.getModule<ScaledLinear>('encoder.layers.0.attention.value').merged).toBe(false);
    const outAfter = run((x) => tuned.forward(x));
    expect(outAfter.values).toEqual(outBefore.values);
    tf.dispose([outBefore.tensor, outAfter.tensor]);
    model.dispose();
  });
});

describe('enable / disable', () => {
  it('disable gives the base model\'s outputs, enable the adapted ones', () => {
    const y0 = baseOutput();
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector(), biasOnly(), addShift({ targets: { roles: ['attention.output'] }, size: 4, value: 0.5 })]);
    setScale(model, 'encoder.layers.1.attention.value', [2, 2, 2, 2]);
    model.getParameter('head.bias').assign(tf.tensor1d([1, 1]));
    const adapted = run((x) => tuned.forward(x));
    tuned.disable();
    expect(tuned.isEnabled).toBe(false);
    const disabled = run((x) => tuned.forward(x));
    disabled.values.forEach((v, i) => expect(v).toBeCloseTo(y0[i]!, 6));
    expect(caught(() => tuned.merge()).message).toContain('disabled');
    tuned.enable();
    const enabled = run((x) => tuned.forward(x));
    expect(enabled.values).toEqual(adapted.values);
    expect(maxAbsDifference(adapted.tensor, disabled.tensor)).toBeGreaterThan(0.1);
    tf.dispose([adapted.tensor, disabled.tensor, enabled.tensor]);
    model.dispose();
  });

  it('is a clear error when a method cannot be switched off, and changes nothing', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ init: 3 }), prefixSlot()]);
    const before = run((x) => tuned.forward(x));
    const error = caught(() => tuned.disable());
    expect(error.code).toBe('not-implemented');
    expect(error.message).toContain('test/prefix');
    expect(error.message).toContain('setEnabled');
    const after = run((x) => tuned.forward(x));
    expect(after.values).toEqual(before.values);
    tf.dispose([before.tensor, after.tensor]);
    model.dispose();
  });

  it('cannot disable while merged', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector()]);
    tuned.merge();
    expect(caught(() => tuned.disable()).message).toContain('unmerge() first');
    model.dispose();
  });
});

describe('named adapters', () => {
  it('keeps only the active adapter enabled and trainable; switches and deletes', () => {
    const y0 = baseOutput();
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ targets: { paths: ['head'] }, init: 2 })], { adapterName: 'a' });
    tuned.addAdapter('b', [addShift({ targets: { paths: ['head'] }, size: 2, value: 1 })]);
    expect(tuned.adapterNames()).toEqual(['a', 'b']);
    expect(tuned.activeAdapter).toBe('a');
    const scale = model.getModule('head.base').parameter('scale');
    const shift = model.getModule('head').parameter('shift');
    const check = (expected: (y: number) => number): void => {
      const { tensor, values: out } = run((x) => tuned.forward(x));
      out.forEach((v, i) => expect(v).toBeCloseTo(expected(y0[i]!), 5));
      tensor.dispose();
    };
    check((y) => 2 * y);
    expect(tuned.trainableParameters()).toEqual([scale]);
    expect(shift.trainable).toBe(false);
    tuned.setAdapter('b');
    check((y) => y + 1);
    expect(tuned.trainableParameters()).toEqual([shift]);
    expect(scale.trainable).toBe(false);
    expect(tuned.appliedMethods().map((m) => m.name)).toEqual(['test/add-shift']);
    expect(caught(() => tuned.setAdapter('c')).allowed).toEqual(['a', 'b']);
    tuned.deleteAdapter('b');
    expect(tuned.activeAdapter).toBe('a');
    expect(model.getModule('head')).toBeInstanceOf(ScaledLinear);
    expect(shift.variable.isDisposed).toBe(true);
    check((y) => 2 * y);
    expect(scale.trainable).toBe(true);
    expect(caught(() => tuned.deleteAdapter('a')).message).toContain('only adapter');
    model.dispose();
  });

  it('rolls back an added adapter whose methods cannot be disabled', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector()]);
    const error = caught(() => tuned.addAdapter('p', [prefixSlot()]));
    expect(error.code).toBe('not-implemented');
    expect(tuned.adapterNames()).toEqual(['default']);
    expect(model.getModule<TinyAttention>('encoder.layers.0.attention').prefix).toBeUndefined();
    expect(caught(() => tuned.addAdapter('default', [biasOnly()])).message).toContain('already exists');
    model.dispose();
  });
});
