import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { loadSafetensors } from '../io/safetensors-file';
import { tf } from '../nn/tf';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './adapter-manifest';
import { loadAdapter, loadPeft } from './load-peft';
import { peft } from './peft-model';
import { createRegistry } from './registry';
import { TinyModel, addShift, biasOnly, maxAbsDifference, prefixSlot, sampleInput, scaleVector, type ScaledLinear } from './test-fixtures';

let dir: string;
const registry = createRegistry([biasOnly, scaleVector, addShift, prefixSlot]);

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  dir = await mkdtemp(join(tmpdir(), 'peftjs-adapter-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejected(promise: Promise<unknown>): Promise<PeftError> {
  try {
    await promise;
  } catch (error) {
    if (PeftError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a PeftError');
}

/** A trained-looking composition: scales, biases, a shift on attention outputs (matched by RegExp) and prefixes. */
function tunedModel(): ReturnType<typeof peft<TinyModel>> {
  const model = new TinyModel();
  const tuned = peft(model, [
    scaleVector({ init: 1.25 }),
    biasOnly({ targets: { tensorKinds: ['bias'], layers: [1] } }),
    addShift({ targets: { paths: [/attention\.output$/] }, size: 4, value: 0.1 }),
    prefixSlot(),
  ]);
  for (const [i, parameter] of tuned.trainableParameters().entries()) {
    parameter.assign(tf.tidy(() => tf.add(parameter.value, tf.randomUniform(parameter.shape, -0.3, 0.3, 'float32', 100 + i))));
  }
  return tuned;
}

describe('save and loadPeft', () => {
  it('round-trips a composition into a fresh model with identical outputs', async () => {
    const tuned = tunedModel();
    const target = join(dir, 'composed');
    await tuned.save(target);
    const manifest = JSON.parse(await readFile(join(target, ADAPTER_CONFIG_FILE), 'utf8'));
    expect(manifest.format).toBe('peftjs-adapter');
    expect(manifest.formatVersion).toBe(1);
    expect(manifest.methods.map((m: { name: string }) => m.name)).toEqual(['test/scale', 'test/bias-only', 'test/add-shift', 'test/prefix']);
    expect(manifest.methods[0]).toMatchObject({ package: '@peftjs/test-fixtures', packageVersion: '0.0.1', kind: 'additive', adapterName: 'default', config: { init: 1.25 } });
    // A RegExp in a config is saved in its JSON form.
    expect(manifest.methods[2].config.targets.paths).toEqual([{ regex: 'attention\\.output$' }]);
    const { tensors } = await loadSafetensors(join(target, ADAPTER_WEIGHTS_FILE));
    expect(Object.keys(tensors)).toContain('0.test/scale.encoder.layers.0.attention.value.scale');
    expect(Object.keys(tensors)).toContain('1.test/bias-only.encoder.layers.1.ffn.up.bias');
    tf.dispose(Object.values(tensors));

    const fresh = new TinyModel();
    const loaded = await loadPeft(fresh, target, { registry });
    const x = sampleInput();
    const expected = tuned.forward(x);
    const actual = loaded.forward(x);
    expect(maxAbsDifference(actual, expected)).toBe(0);
    expect(loaded.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(tuned.trainableParameters().reduce((n, p) => n + p.size, 0));
    tf.dispose([x, expected, actual]);
    tuned.model.dispose();
    fresh.dispose();
  });

  it('writes exactly report().adapterBytes bytes', async () => {
    const tuned = tunedModel();
    const target = join(dir, 'bytes');
    await tuned.save(target);
    expect((await stat(join(target, ADAPTER_WEIGHTS_FILE))).size).toBe(tuned.report().adapterBytes);
    tuned.model.dispose();
  });

  it('names the providing package when a saved method is not registered', async () => {
    const tuned = peft(new TinyModel(), [scaleVector()]);
    const target = join(dir, 'unknown');
    await tuned.save(target);
    const error = await rejected(loadPeft(new TinyModel(), target, { registry: createRegistry([biasOnly]) }));
    expect(error.code).toBe('unknown-method');
    expect(error.message).toContain("import '@peftjs/test-fixtures/register'");
    tuned.model.dispose();
  });

  it('rejects tensors whose shapes do not fit, naming key and shapes', async () => {
    const tuned = peft(new TinyModel(), [scaleVector()]);
    const target = join(dir, 'shape');
    await tuned.save(target);
    const bytes = await readFile(join(target, ADAPTER_WEIGHTS_FILE));
    const { tensors } = await loadSafetensors(join(target, ADAPTER_WEIGHTS_FILE));
    const key = '0.test/scale.encoder.layers.0.ffn.down.scale';
    tensors[key]!.dispose();
    tensors[key] = tf.ones([5]);
    const { saveSafetensors } = await import('../io/safetensors-file');
    await saveSafetensors(join(target, ADAPTER_WEIGHTS_FILE), tensors);
    tf.dispose(Object.values(tensors));
    const error = await rejected(loadPeft(new TinyModel(), target, { registry }));
    expect(error.code).toBe('checkpoint-mismatch');
    expect(error.message).toContain('encoder.layers.0.ffn.down.scale has shape [5], expected [4]');
    expect(bytes.length).toBeGreaterThan(0);
    tuned.model.dispose();
  });

  it('rejects missing and unowned tensors (a manifest that does not match its weights)', async () => {
    const tuned = peft(new TinyModel(), [scaleVector()]);
    const target = join(dir, 'keys');
    await tuned.save(target);
    const manifestPath = join(target, ADAPTER_CONFIG_FILE);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.methods[0].config.targets = { roles: ['attention.value', 'ffn.down', 'ffn.up'] };
    await writeFile(manifestPath, JSON.stringify(manifest));
    const missing = await rejected(loadPeft(new TinyModel(), target, { registry }));
    expect(missing.code).toBe('checkpoint-mismatch');
    expect(missing.message).toContain('missing encoder.layers.0.ffn.up.scale');
    manifest.methods[0].name = 'test/add-shift';
    manifest.methods[0].config = { targets: { roles: ['attention.value'] }, size: 4 };
    await writeFile(manifestPath, JSON.stringify(manifest));
    const renamed = await rejected(loadPeft(new TinyModel(), target, { registry }));
    expect(renamed.code).toBe('checkpoint-mismatch');
    expect(renamed.message).toContain('no method of the manifest owns');
    tuned.model.dispose();
  });

  it('rejects a corrupt weights file and an invalid manifest', async () => {
    const tuned = peft(new TinyModel(), [scaleVector()]);
    const target = join(dir, 'corrupt');
    await tuned.save(target);
    const manifestPath = join(target, ADAPTER_CONFIG_FILE);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.methods[0].config.init = 'big';
    await writeFile(manifestPath, JSON.stringify(manifest));
    const badConfig = await rejected(loadPeft(new TinyModel(), target, { registry }));
    expect(badConfig.code).toBe('invalid-config');
    expect(badConfig.field).toBe('test/scale.init');
    await writeFile(manifestPath, JSON.stringify({ ...manifest, formatVersion: 9 }));
    expect((await rejected(loadPeft(new TinyModel(), target, { registry }))).field).toBe('adapter_config.json.formatVersion');
    await tuned.save(target);
    const weights = await readFile(join(target, ADAPTER_WEIGHTS_FILE));
    await writeFile(join(target, ADAPTER_WEIGHTS_FILE), weights.subarray(0, weights.length - 3));
    expect((await rejected(loadPeft(new TinyModel(), target, { registry }))).code).toBe('safetensors-invalid');
    tuned.model.dispose();
  });

  it('saves and loads through a method\'s own HF PEFT format', async () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ targets: { paths: ['head'] } })]);
    model.getModule<ScaledLinear>('head').parameter('scale').assign(tf.tensor1d([0.5, 3]));
    const target = join(dir, 'hf');
    await tuned.save(target, { format: 'hf' });
    expect(JSON.parse(await readFile(join(target, ADAPTER_CONFIG_FILE), 'utf8'))).toEqual({ peft_type: 'TEST_SCALE', target_paths: ['head'] });
    const { tensors } = await loadSafetensors(join(target, ADAPTER_WEIGHTS_FILE));
    expect(Object.keys(tensors)).toEqual(['base_model.model.head.scale_vector']);
    tf.dispose(Object.values(tensors));
    const fresh = new TinyModel();
    const loaded = await loadPeft(fresh, target, { registry });
    expect(Array.from(fresh.getModule<ScaledLinear>('head').parameter('scale').variable.dataSync())).toEqual([0.5, 3]);
    expect(loaded.appliedMethods()[0]!.name).toBe('test/scale');
    const composed = peft(new TinyModel(), [scaleVector(), biasOnly()]);
    expect((await rejected(composed.save(join(dir, 'hf2'), { format: 'hf' }))).code).toBe('not-implemented');
    const unknownType = await rejected(loadPeft(new TinyModel(), target, { registry: createRegistry([biasOnly]) }));
    expect(unknownType.code).toBe('unknown-method');
    expect(unknownType.message).toContain('TEST_SCALE');
    model.dispose();
    fresh.dispose();
    composed.model.dispose();
  });

  it('loads a saved adapter as another named adapter of an existing PeftModel', async () => {
    const source = peft(new TinyModel(), [addShift({ targets: { paths: ['head'] }, size: 2, value: 0.75 })]);
    const target = join(dir, 'second');
    await source.save(target);
    const model = new TinyModel();
    const x = sampleInput();
    const base = model.forward(x);
    const tuned = peft(model, [scaleVector({ targets: { paths: ['head'] }, init: 2 })]);
    await loadAdapter(tuned, target, 'shifted', { registry });
    expect(tuned.adapterNames()).toEqual(['default', 'shifted']);
    expect(tuned.activeAdapter).toBe('default');
    tuned.setAdapter('shifted');
    const shifted = tuned.forward(x);
    const expected = tf.add(base, 0.75);
    expect(maxAbsDifference(shifted, expected)).toBeLessThan(1e-6);
    tf.dispose([x, base, shifted, expected]);
    source.model.dispose();
    model.dispose();
  });
});
