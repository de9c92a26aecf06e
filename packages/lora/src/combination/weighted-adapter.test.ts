import { BASE_ADAPTER_NAME, PeftError, createRegistry, loadPeft, peft, tf, type Linear, type PeftModel } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear } from '../lora/layer';
import { krona } from '../krona/method';
import { lora, loraMethod } from '../lora/method';
import { addWeightedAdapter } from './weighted-adapter';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const TARGETS = ['encoder.layers.0.attention.query', 'encoder.layers.0.attention.value', 'encoder.layers.1.attention.query', 'encoder.layers.1.attention.value'];

/** Two adapters 'a' (r 2, alpha 4) and 'b' (r 3, alpha 3) with random nonzero factors, on query and value. */
function twoAdapters(): { model: ConformanceModel; tuned: PeftModel<ConformanceModel> } {
  const model = createConformanceBert();
  const tuned = peft(model, [lora({ r: 2, alpha: 4 })], { adapterName: 'a' });
  tuned.addAdapter('b', [lora({ r: 3, alpha: 3 })]);
  let seed = 1;
  for (const adapter of ['a', 'b']) for (const { applied } of tuned.entries(adapter)) for (const parameter of applied.parameters()) parameter.assign(tf.randomNormal(parameter.shape, 0, 0.6, 'float32', seed++));
  model.eval();
  return { model, tuned };
}

/** The LoRA layer at a path, as seen by one adapter (the adapters live side by side in one LoraLinear). */
function layerOf(model: ConformanceModel, path: string, adapter: string): LoraLinear {
  const layer = model.getModule(path) as LoraLinear;
  expect(layer.base).not.toBeInstanceOf(LoraLinear);
  return layer.forAdapter(adapter);
}

/** Host-side ΔW [in, out] of a LoRA layer: s·A·B. */
function delta(layer: LoraLinear): tf.Tensor2D {
  return tf.mul(tf.matMul(layer.loraA.value as tf.Tensor2D, layer.loraB.value as tf.Tensor2D), layer.scaling) as tf.Tensor2D;
}

/** Last hidden states of the base model with its target weights replaced by W + ΔW_t, computed without any adapter. */
function hiddenWithDeltas(deltas: tf.Tensor2D[], batch: ReturnType<typeof conformanceBatch>): Float32Array {
  const reference = createConformanceBert();
  reference.eval();
  TARGETS.forEach((path, t) => {
    const linear = reference.getModule(path) as Linear;
    linear.weight.assign(tf.add(linear.weight.value, deltas[t]!));
  });
  const hidden = reference.forward(batch).lastHiddenState.dataSync() as Float32Array;
  reference.dispose();
  return hidden;
}

describe('addWeightedAdapter', () => {
  it.each(['cat', 'svd'] as const)("'%s' (full rank) gives the hidden states of W + Σ w_i ΔW_i computed independently", (combinationType) => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 3 });
    const deltas = TARGETS.map((path) => tf.add(tf.mul(delta(layerOf(model, path, 'a')), 0.7), tf.mul(delta(layerOf(model, path, 'b')), -1.5)) as tf.Tensor2D);
    addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [0.7, -1.5], name: 'mix', combinationType, svdRank: 5 });
    tuned.setAdapter('mix');
    const ours = tuned.forward(batch).lastHiddenState.dataSync();
    const expected = hiddenWithDeltas(deltas, batch);
    const base = hiddenWithDeltas(deltas.map((d) => tf.zerosLike(d) as tf.Tensor2D), batch);
    // The combined update moves the hidden states, so matching them is not trivial.
    expect(Math.max(...Array.from(expected, (value, i) => Math.abs(value - base[i]!)))).toBeGreaterThan(1e-2);
    ours.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    expect((model.getModule(TARGETS[0]!) as LoraLinear).forAdapter('mix').r).toBe(5);
    tf.dispose(deltas);
    disposeBatch(batch);
    model.dispose();
  });

  it("truncated 'svd' loses exactly the dropped singular values", () => {
    const { model, tuned } = twoAdapters();
    const sum = tf.add(delta(layerOf(model, TARGETS[0]!, 'a')), delta(layerOf(model, TARGETS[0]!, 'b'))) as tf.Tensor2D;
    addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [1, 1], name: 'low', combinationType: 'svd', svdRank: 2 });
    const low = delta((model.getModule(TARGETS[0]!) as LoraLinear).forAdapter('low'));
    const error = tf.norm(tf.sub(sum, low)).dataSync()[0]!;
    const total = tf.sum(tf.square(sum)).dataSync()[0]!;
    const kept = tf.sum(tf.square(low)).dataSync()[0]!;
    // ‖ΔW − ΔW_2‖² = ‖ΔW‖² − ‖ΔW_2‖² for an SVD truncation (the kept part is orthogonal to the rest).
    expect(error ** 2).toBeCloseTo(total - kept, 4);
    expect(error).toBeGreaterThan(1e-3);
    tf.dispose([sum, low]);
    model.dispose();
  });

  it("'linear' follows HF PEFT's formula: A = Σ √(w s) A_i, B = Σ √(w s) B_i, scaling 1", () => {
    const model = createConformanceBert();
    const tuned = peft(model, [lora({ r: 2, alpha: 4 })], { adapterName: 'a' });
    tuned.addAdapter('b', [lora({ r: 2, alpha: 1 })]);
    let seed = 10;
    for (const adapter of ['a', 'b']) for (const { applied } of tuned.entries(adapter)) for (const parameter of applied.parameters()) parameter.assign(tf.randomNormal(parameter.shape, 0, 0.3, 'float32', seed++));
    const [a, b] = [layerOf(model, TARGETS[1]!, 'a'), layerOf(model, TARGETS[1]!, 'b')];
    // s_a = 4 / 2 = 2, s_b = 1 / 2 = 0.5; weights 2 and 8 → factors √4 = 2 and √4 = 2.
    const expectedA = tf.add(tf.mul(a.loraA.value, 2), tf.mul(b.loraA.value, 2));
    const expectedB = tf.add(tf.mul(a.loraB.value, 2), tf.mul(b.loraB.value, 2));
    addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [2, 8], name: 'lin', combinationType: 'linear' });
    const combined = (model.getModule(TARGETS[1]!) as LoraLinear).forAdapter('lin');
    expect(combined.scaling).toBe(1);
    Array.from(combined.loraA.value.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expectedA.dataSync()[i]!, 6));
    Array.from(combined.loraB.value.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expectedB.dataSync()[i]!, 6));
    tf.dispose([expectedA, expectedB]);
    model.dispose();
  });

  it('refuses unknown adapters, wrong weights, different ranks or negative weights for linear, other targets and non-LoRA adapters', () => {
    const { model, tuned } = twoAdapters();
    const field = (fn: () => void) => {
      try {
        fn();
      } catch (error) {
        return PeftError.isInstance(error) ? error.field : 'not a PeftError';
      }
      return 'no error';
    };
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'zz'], weights: [1, 1], name: 'x', combinationType: 'cat' }))).toBe('adapters');
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [1], name: 'x', combinationType: 'cat' }))).toBe('weights');
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [1, 1], name: 'x', combinationType: 'linear' }))).toBe('combinationType');
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [1, 1], name: 'x', combinationType: 'svd', svdRank: 99 }))).toBe('svdRank');
    tuned.addAdapter('ffn', [lora({ r: 2, targets: { roles: ['ffn.up'] } })]);
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'ffn'], weights: [1, 1], name: 'x', combinationType: 'cat' }))).toBe('adapters');
    tuned.addAdapter('kron', [krona({ targets: { roles: ['ffn.down'] } })]);
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'kron'], weights: [1, 1], name: 'x', combinationType: 'cat' }))).toBe('adapters');
    tuned.addAdapter('a2', [lora({ r: 2 })]);
    expect(field(() => addWeightedAdapter(tuned, { adapters: ['a', 'a2'], weights: [1, -1], name: 'x', combinationType: 'linear' }))).toBe('weights');
    expect(tuned.adapterNames()).toEqual(['a', 'b', 'ffn', 'kron', 'a2']);
    model.dispose();
  });

  it('saves and loads a combined adapter through the HF PEFT format with the same outputs', async () => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 2 });
    addWeightedAdapter(tuned, { adapters: ['a', 'b'], weights: [1, 0.5], name: 'mix', combinationType: 'cat' });
    tuned.setAdapter('mix');
    const expected = tuned.forward(batch).lastHiddenState.dataSync();
    const dir = await mkdtemp(join(tmpdir(), 'peftjs-weighted-'));
    try {
      await tuned.save(dir, { format: 'hf' });
      const loaded = await loadPeft(createConformanceBert(), dir, { registry: createRegistry([loraMethod]) });
      loaded.model.eval();
      loaded.forward(batch).lastHiddenState.dataSync().forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
      loaded.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    disposeBatch(batch);
    model.dispose();
  });
});

describe('PeftModel.forwardMixed', () => {
  it('gives each example the outputs of its own adapter (or the base), in batch order, and keeps the active adapter', () => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 5 });
    const names = ['b', BASE_ADAPTER_NAME, 'a', 'b', 'a'];
    const single = (adapter: string) => {
      if (adapter === BASE_ADAPTER_NAME) tuned.disable();
      else tuned.setAdapter(adapter);
      const output = tuned.forward(batch);
      const rows = { logits: output.logits.arraySync() as number[][], hidden: (output.lastHiddenState.reshape([5, -1]).arraySync() as number[][]) };
      tuned.enable();
      return rows;
    };
    const perAdapter = Object.fromEntries(['a', 'b', BASE_ADAPTER_NAME].map((adapter) => [adapter, single(adapter)]));
    tuned.setAdapter('a');
    const output = tuned.forwardMixed(batch, names);
    const mixed = { logits: output.logits.arraySync() as number[][], hidden: output.lastHiddenState.reshape([5, -1]).arraySync() as number[][] };
    for (const key of ['logits', 'hidden'] as const) {
      names.forEach((adapter, row) => mixed[key][row]!.forEach((value, j) => expect(value).toBeCloseTo(perAdapter[adapter]![key][row]![j]!, 5)));
    }
    // The three adapters' hidden states differ, so the check above tells them apart.
    const spread = (x: string, y: string) => Math.max(...perAdapter[x]!.hidden.flatMap((row, i) => row.map((value, j) => Math.abs(value - perAdapter[y]!.hidden[i]![j]!))));
    expect(Math.min(spread('a', 'b'), spread('a', BASE_ADAPTER_NAME), spread('b', BASE_ADAPTER_NAME))).toBeGreaterThan(1e-2);
    expect(tuned.activeAdapter).toBe('a');
    expect(tuned.isEnabled).toBe(true);
    disposeBatch(batch);
    model.dispose();
  });

  it('refuses a wrong number of names, unknown names and training mode', () => {
    const { model, tuned } = twoAdapters();
    const batch = conformanceBatch(model, { batch: 2 });
    expect(() => tuned.forwardMixed(batch, ['a'])).toThrow(/2 names, one per example|for a batch of 2/);
    expect(() => tuned.forwardMixed(batch, ['a', 'nope'])).toThrow(/unknown adapter/);
    model.train();
    expect(() => tuned.forwardMixed(batch, ['a', 'b'])).toThrow(/model.eval\(\)/);
    disposeBatch(batch);
    model.dispose();
  });
});
