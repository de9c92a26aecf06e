import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeftError, createBert, createRegistry, loadPeft, peft, setGlobalSeed, tf, type BertModel } from '@peftjs/core';
import { loraMethod } from '@peftjs/lora';
import { bitFitMethod } from '@peftjs/selective';
import { afterAll, describe, expect, it } from 'vitest';
import { composeByName } from './compose-by-name';
import { defineHybrid } from './define-hybrid';
import { createHybridRegistry } from './hybrid-registry';
import { mamHybrid } from './mam';
import { validatePartCompatibility } from './part-compatibility';
import { partParameterReport } from './part-report';
import { defineS4Hybrid, s4Hybrid, spindleGroups } from './s4';
import { unipeltHybrid } from './unipelt';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** LoRA and BitFit registered; the adapters and prompts families only declared, as when they are not installed. */
const registry = () => {
  const created = createRegistry([loraMethod, bitFitMethod]);
  created.declarePackage({ packageName: '@peftjs/prompts', methods: ['prefix-tuning'] });
  created.declarePackage({ packageName: '@peftjs/adapters', methods: ['pfeiffer', 'scaled-parallel-adapter', 'houlsby'] });
  return created;
};

function tinyBert(seed: number): BertModel {
  setGlobalSeed(seed);
  return createBert({ hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, vocabSize: 50, maxPositions: 16, hiddenDropout: 0, attentionDropout: 0, task: 'sequence-classification', numLabels: 3 });
}

const inputs = () => ({ inputIds: tf.tensor2d([[2, 7, 9, 11, 3], [2, 5, 3, 0, 0]], undefined, 'int32'), attentionMask: tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], undefined, 'int32') });

function logits(model: BertModel): Float32Array {
  const batch = inputs();
  model.eval();
  const out = tf.tidy(() => model.forward(batch).logits);
  const values = out.dataSync() as Float32Array;
  out.dispose();
  Object.values(batch).forEach((tensor) => tensor.dispose());
  return values;
}

/** Moves every trainable parameter of the adapter by a seeded random step, standing in for training. */
function perturb(parameters: ReadonlyArray<{ value: tf.Tensor; assign(value: tf.Tensor): void }>): void {
  parameters.forEach((parameter, i) => {
    const next = tf.tidy(() => parameter.value.add(tf.randomNormal(parameter.value.shape, 0, 0.5, 'float32', 100 + i)));
    parameter.assign(next);
    next.dispose();
  });
}

describe('a composition of registered methods (lora+bitfit)', () => {
  it('applies every part, reports each, saves one adapter whose manifest lists each method, and loads it back', async () => {
    const hybrid = composeByName('lora+bitfit');
    expect(hybrid.parts.map((part) => part.method)).toEqual(['lora', 'bitfit']);
    const configs = hybrid.configs({ registry: registry(), trainHead: true });
    // BitFit trains the head itself, so LoRA gets no modulesToSave and the head is trained once.
    expect((configs[0]!.config as { modulesToSave?: unknown }).modulesToSave).toBeUndefined();
    expect((configs[1]!.config as { trainHead: boolean }).trainHead).toBe(true);

    const model = tinyBert(1);
    const base = logits(model);
    const tuned = peft(model, configs);
    const parts = partParameterReport(tuned);
    // LoRA r = 8 on query and value of 2 layers (16 → 16): 2 · 2 · (8·16 + 16·8) = 1024.
    expect(parts.map((part) => [part.name, part.trainable])).toEqual([
      ['lora', 1024],
      ['bitfit', tuned.report().trainable - 1024],
    ]);
    expect(parts[0]!.changed).toBe(0); // B = 0 at init: the merge changes nothing yet
    expect(parts[1]!.changed).toBe(0);

    perturb(tuned.trainableParameters());
    const trained = logits(model);
    expect(Math.max(...trained.map((value, i) => Math.abs(value - base[i]!)))).toBeGreaterThan(1e-2);
    const after = partParameterReport(tuned);
    // LoRA's merge touches the whole query and value matrices: 2 · 2 · 16 · 16 entries.
    expect(after[0]!.changed).toBe(1024);
    expect(after[1]!.changed).toBe(after[1]!.trainable);
    // Measuring left the model exactly as it was.
    expect([...logits(model)]).toEqual([...trained]);

    const dir = await mkdtemp(join(tmpdir(), 'peftjs-hybrid-'));
    dirs.push(dir);
    await tuned.save(dir);
    const manifest = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { methods: Array<{ name: string; package: string }> };
    expect(manifest.methods.map((method) => [method.name, method.package])).toEqual([
      ['lora', '@peftjs/lora'],
      ['bitfit', '@peftjs/selective'],
    ]);
    const fresh = tinyBert(1);
    expect([...logits(fresh)]).toEqual([...base]);
    await loadPeft(fresh, dir, { registry: registry() });
    const loaded = logits(fresh);
    loaded.forEach((value, i) => expect(value).toBeCloseTo(trained[i]!, 5));
  });

  it('defines a hybrid of its own in a few lines and resolves it through a registry', () => {
    const mine = defineHybrid({ name: 'acme/lora-bitfit', parts: [{ method: 'lora', config: { r: 4 } }, { method: 'bitfit', config: { subset: 'query-and-intermediate' } }] });
    const hybrids = createHybridRegistry([mine]);
    const [lora, bitfit] = hybrids.get('acme/lora-bitfit').configs({ registry: registry(), overrides: { lora: { alpha: 16 } } });
    expect(lora!.config).toMatchObject({ r: 4, alpha: 16 });
    expect(bitfit!.config).toMatchObject({ subset: 'query-and-intermediate' });
  });
});

describe('hybrid validation', () => {
  it('names the package to install when a part is not registered', () => {
    const error = catchError(() => mamHybrid.configs({ registry: registry(), trainHead: true }));
    expect(error.code).toBe('unknown-method');
    expect(error.message).toContain('"prefix-tuning"');
    expect(error.message).toContain('@peftjs/prompts');
    expect(error.field).toBe('mam.parts.prefix.method');
    expect(catchError(() => unipeltHybrid.configs({ registry: registry() })).message).toContain('@peftjs/prompts');
    expect(catchError(() => s4Hybrid.configs({ registry: registry() })).message).toContain('@peftjs/adapters');
  });

  it('gates the gated parts with core\'s gate method, applied after them (the UniPELT hook)', () => {
    const gated = defineHybrid({ name: 'gated-lora-bitfit', parts: [{ method: 'lora', gated: true }, { method: 'bitfit' }] });
    const configs = gated.configs({ registry: registry() });
    expect(configs.map((configured) => configured.method.name)).toEqual(['lora', 'bitfit', 'gate']);
    expect(configs[2]!.config).toEqual({ methods: ['lora'] });
    setGlobalSeed(3);
    const model = createBert({ vocabSize: 30, hiddenSize: 8, numLayers: 1, numHeads: 2, maxPositions: 8, numLabels: 2 });
    const tuned = peft(model, configs);
    // One gate per LoRA layer (query and value): a 2-entry projection (weight [8, 1], bias [1]) each.
    expect(tuned.entries()[2]!.applied.parameters().map((parameter) => parameter.size)).toEqual([8, 1, 8, 1]);
    expect(tuned.canMerge()).toBe(false);
    model.dispose();
  });

  it('rejects a bad part config naming the hybrid, the part and the field', () => {
    const bad = defineHybrid({ name: 'bad', parts: [{ method: 'lora', config: { r: 0 } }, { method: 'bitfit' }] });
    const error = catchError(() => bad.configs({ registry: registry() }));
    expect(error.code).toBe('invalid-config');
    expect(error.field).toBe('bad.parts.lora.r');
  });

  it('checks parts pairwise as AdapterHub ConfigUnion.validate does', () => {
    const ok = (...parts: Array<[string, Record<string, unknown>?]>) => () =>
      validatePartCompatibility(
        'h',
        parts.map(([method, config], i) => ({ label: `p${i}`, method, config: config ?? {} })),
      );
    expect(ok(['prefix-tuning'], ['scaled-parallel-adapter'])).not.toThrow();
    expect(ok(['lora'], ['bitfit'])).not.toThrow();
    // Same architecture at the same place.
    expect(ok(['lora'], ['dora'])).toThrow(/both lora methods/);
    expect(ok(['prefix-tuning'], ['adaptive-prefix-tuning'])).toThrow(/composition|cannot be combined/);
    // Two bottleneck adapters at the FFN conflict; AdapterHub needs them at different sublayers.
    expect(ok(['houlsby'], ['pfeiffer'])).toThrow(/bottleneck/);
    expect(ok(['pfeiffer'], ['scaled-parallel-adapter'])).toThrow(/bottleneck/);
    // A part restricted to some layers leaves the decision to the slots claimed when applied (AdapterHub's leave_out).
    expect(ok(['lora', { targets: { layers: [0] } }], ['lora', { targets: { layers: [1] } }])).not.toThrow();
    expect(catchError(() => composeByName('lora+lora').configs({ registry: registry() })).message).toMatch(/distinct labels/);
    expect(catchError(() => defineHybrid({ name: 'one', parts: [{ method: 'lora' }] })).field).toBe('parts');
    expect(catchError(() => defineHybrid({ name: 'Bad Name', parts: [{ method: 'lora' }, { method: 'bitfit' }] })).field).toBe('name');
  });

  it('splices a registered hybrid into a composition by name', () => {
    const hybrids = createHybridRegistry([mamHybrid]);
    expect(composeByName('mam+bitfit', { hybrids }).parts.map((part) => [part.label, part.method])).toEqual([
      ['mam.prefix', 'prefix-tuning'],
      ['mam.adapter', 'scaled-parallel-adapter'],
      ['bitfit', 'bitfit'],
    ]);
  });
});

describe('S4 spindle groups (Chen et al. 2023)', () => {
  it('gives the middle groups more layers and every group at least one', () => {
    expect(spindleGroups(12)).toEqual([[0, 1], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]);
    expect(spindleGroups(4)).toEqual([[0], [1], [2], [3]]);
    expect(spindleGroups(7)).toEqual([[0], [1, 2, 3], [4, 5], [6]]);
    expect(() => spindleGroups(3)).toThrow(/>= 4/);
  });

  it('assigns G1 (A, L), G2 (A, P), G3 (A, P, B), G4 (P, B, L)', () => {
    const layers = Object.fromEntries(defineS4Hybrid(12).parts.map((part) => [part.method, (part.config as { layers?: number[]; targets?: { layers: number[] } }).layers ?? (part.config as { targets: { layers: number[] } }).targets.layers]));
    expect(layers).toEqual({
      houlsby: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      'prefix-tuning': [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      bitfit: [6, 7, 8, 9, 10, 11],
      lora: [0, 1, 10, 11],
    });
  });
});

function catchError(run: () => unknown): PeftError {
  try {
    run();
  } catch (error) {
    if (PeftError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a PeftError');
}
