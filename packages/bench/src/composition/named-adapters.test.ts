import { BASE_ADAPTER_NAME, Linear, SeedStream, loadAdapter, loadPeft, peft, tf, type PeftModel } from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { createTestBert } from './test-model';
import { LoraLinear, lora } from '@peftjs/lora';
import '@peftjs/lora/register';
import { bitfit } from '@peftjs/selective';
import '@peftjs/selective/register';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const LORA_ADAPTERS = ['a', 'b', 'c'] as const;
const BITFIT_ADAPTERS = ['d', 'e'] as const;
const ALL = [...LORA_ADAPTERS, ...BITFIT_ADAPTERS];
const loraConfig = (r: number) => lora({ r, alpha: 2 * r, targets: { roles: ['attention.query', 'attention.value', 'ffn.down'] } });

/** Moves every trainable entry of the active adapter by seeded noise of std 0.3, so each adapter differs. */
function perturbActive(model: PeftModel<ConformanceModel>, seed: number): void {
  const random = new SeedStream(seed);
  for (const parameter of model.trainableParameters()) {
    tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.3, 'float32', random.nextSeed()))));
  }
}

const logitsOf = (model: PeftModel<ConformanceModel>, batch: ReturnType<typeof conformanceBatch>) => tf.tidy(() => Array.from(model.forward(batch).logits.dataSync()));
const maxDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));

describe('named adapters inside the layers: three LoRA and two BitFit adapters on one model', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('adds, switches, mixes batches, merges, saves and reloads each, with no wrapper stacking', async () => {
    const base = createTestBert();
    base.eval();
    const batch = conformanceBatch(base, { batch: 5, seq: 6 });
    const baseLogits = tf.tidy(() => Array.from(base.forward(batch).logits.dataSync() as Float32Array));

    const tuned = peft(base, [loraConfig(4)], { adapterName: 'a' });
    perturbActive(tuned, 1);
    tuned.addAdapter('b', [loraConfig(2)]);
    tuned.addAdapter('c', [loraConfig(3)]);
    tuned.addAdapter('d', [bitfit()]);
    tuned.addAdapter('e', [bitfit()]);
    ALL.slice(1).forEach((name, i) => {
      tuned.setAdapter(name);
      perturbActive(tuned, 10 + i);
    });

    // One LoraLinear per target, holding all three adapters; no LoRA wrapper inside another.
    const query = tuned.model.getModule('encoder.layers.0.attention.query');
    expect(query).toBeInstanceOf(LoraLinear);
    expect((query as LoraLinear).adapterNames()).toEqual(['a', 'b', 'c']);
    expect((query as LoraLinear).base).toBeInstanceOf(Linear);
    const wrappers = tuned.model.namedModules().filter(([, module]) => module instanceof LoraLinear);
    expect(wrappers).toHaveLength(2 * 3);
    expect(wrappers.every(([, module]) => !((module as LoraLinear).base instanceof LoraLinear))).toBe(true);

    // Each adapter alone: distinct outputs, and only its own parameters train.
    const perAdapter = new Map<string, number[]>();
    for (const name of ALL) {
      tuned.setAdapter(name);
      expect(tuned.activeAdapter).toBe(name);
      const trainable = new Set(tuned.trainableParameters());
      for (const other of ALL) if (other !== name) for (const entry of tuned.entries(other)) for (const p of entry.applied.parameters()) if (!tuned.entries(name).some((e) => e.applied.parameters().includes(p))) expect(trainable.has(p)).toBe(false);
      perAdapter.set(name, logitsOf(tuned, batch));
      expect(maxDiff(perAdapter.get(name)!, baseLogits)).toBeGreaterThan(1e-2);
    }
    for (const [i, x] of ALL.entries()) for (const y of ALL.slice(i + 1)) expect(maxDiff(perAdapter.get(x)!, perAdapter.get(y)!)).toBeGreaterThan(1e-3);

    // Disabled: exactly the base model, whichever adapter is active.
    tuned.setAdapter('d');
    tuned.disable();
    expect(maxDiff(logitsOf(tuned, batch), baseLogits)).toBeLessThan(1e-6);
    tuned.enable();

    // Merge per adapter equals unmerged, and unmerge restores the others.
    for (const name of ALL) {
      tuned.setAdapter(name);
      tuned.merge();
      expect(maxDiff(logitsOf(tuned, batch), perAdapter.get(name)!)).toBeLessThan(1e-4);
      tuned.unmerge();
    }
    for (const name of ALL) {
      tuned.setAdapter(name);
      expect(maxDiff(logitsOf(tuned, batch), perAdapter.get(name)!)).toBeLessThan(1e-5);
    }

    // A mixed batch: each row as its adapter alone gives it.
    const names = ['c', BASE_ADAPTER_NAME, 'a', 'e', 'b'];
    const mixed = tf.tidy(() => Array.from(tuned.forwardMixed(batch, names).logits.dataSync()));
    const classes = mixed.length / names.length;
    names.forEach((name, row) => {
      const expected = (name === BASE_ADAPTER_NAME ? baseLogits : perAdapter.get(name)!).slice(row * classes, (row + 1) * classes);
      expect(maxDiff(mixed.slice(row * classes, (row + 1) * classes), expected)).toBeLessThan(1e-5);
    });

    // Save each adapter and reload it onto a fresh copy of the base: the same outputs.
    const fresh = createTestBert();
    fresh.eval();
    let reloaded: PeftModel<ConformanceModel> | undefined;
    for (const name of ALL) {
      const dir = await mkdtemp(join(tmpdir(), `named-${name}-`));
      dirs.push(dir);
      await tuned.save(dir, { adapterName: name });
      if (!reloaded) reloaded = await loadPeft(fresh, dir);
      else await loadAdapter(reloaded, dir, name);
    }
    for (const name of ALL) {
      reloaded!.setAdapter(name);
      expect(maxDiff(logitsOf(reloaded!, batch), perAdapter.get(name)!)).toBeLessThan(1e-5);
    }
    expect((reloaded!.model.getModule('encoder.layers.1.ffn.down') as LoraLinear).adapterNames()).toEqual(['a', 'b', 'c']);

    // Deleting one adapter leaves the wrappers with the others, and the rest unchanged.
    tuned.deleteAdapter('b');
    expect((tuned.model.getModule('encoder.layers.0.attention.query') as LoraLinear).adapterNames()).toEqual(['a', 'c']);
    tuned.setAdapter('c');
    expect(maxDiff(logitsOf(tuned, batch), perAdapter.get('c')!)).toBeLessThan(1e-5);
    disposeBatch(batch);
  });
});
