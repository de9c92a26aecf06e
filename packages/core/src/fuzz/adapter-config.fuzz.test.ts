import fc from 'fast-check';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveSafetensors } from '../io/safetensors-file';
import { loadPeft } from '../method/load-peft';
import { peft } from '../method/peft-model';
import { createRegistry } from '../method/registry';
import { TinyModel, biasOnly, scaleVector } from '../method/test-fixtures';
import { tf } from '../nn/tf';
import { FUZZ_RUNS, acceptsOrRejectsTypedAsync, hostileJson, hostileString, mutateAt } from './hostile-input';

const registry = createRegistry([biasOnly, scaleVector]);
let saved: string;
let work: string;
let hfWork: string;
let manifest: Record<string, unknown>;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  saved = await mkdtemp(join(tmpdir(), 'peftjs-fuzz-adapter-'));
  work = await mkdtemp(join(tmpdir(), 'peftjs-fuzz-adapter-work-'));
  hfWork = await mkdtemp(join(tmpdir(), 'peftjs-fuzz-adapter-hf-'));
  const model = new TinyModel();
  const tuned = peft(model, [biasOnly({ targets: { roles: ['head'], tensorKinds: ['bias'] } }), scaleVector({ targets: { roles: ['ffn.down'] } })]);
  await tuned.save(join(saved, 'manifest'));
  const hf = tuned.appliedMethods()[1]!.exportHf!();
  await saveSafetensors(join(hfWork, 'adapter_model.safetensors'), hf.tensors);
  tf.dispose(Object.values(hf.tensors));
  model.dispose();
  manifest = JSON.parse(await readFile(join(saved, 'manifest', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  await copyFile(join(saved, 'manifest', 'adapter_model.safetensors'), join(work, 'adapter_model.safetensors'));
});

afterAll(async () => {
  await rm(saved, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
  await rm(hfWork, { recursive: true, force: true });
});

/** Writes `config` as adapter_config.json next to valid weights and loads it onto a fresh model. */
async function loadWith(config: unknown, directory = work): Promise<void> {
  await writeFile(join(directory, 'adapter_config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  const model = new TinyModel();
  const before = tf.memory().numTensors;
  try {
    await acceptsOrRejectsTypedAsync(() => loadPeft(model, directory, { registry }));
  } finally {
    model.dispose();
  }
  expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
}

/** Every path into the saved manifest, so each field (and each method config field) gets hostile values. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const children = Object.entries(value).flatMap(([key, child]) => pathsOf(child, [...prefix, key]));
  return prefix.length ? [prefix, ...children] : children;
}

describe('the adapter config readers on hostile input', () => {
  it('the saved manifest loads (the control the mutations start from)', async () => {
    const model = new TinyModel();
    const loaded = await loadPeft(model, join(saved, 'manifest'), { registry });
    expect(loaded.trainableParameters().length).toBeGreaterThan(0);
    model.dispose();
  });

  it('rejects a peftjs manifest with one hostile field with a typed error naming the field', async () => {
    const paths = pathsOf(manifest);
    expect(paths.length).toBeGreaterThan(10);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.oneof(hostileJson, hostileString), fc.boolean(), async (path, value, remove) => {
        await loadWith(mutateAt(manifest, path, value, remove));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('rejects whole hostile documents (any JSON, broken JSON) with a typed error naming the field', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostileJson,
          fc.record({ format: fc.oneof(fc.constant('peftjs-adapter'), hostileJson), formatVersion: hostileJson, adapterName: hostileJson, methods: hostileJson }, { requiredKeys: ['format'] }),
          fc.string({ maxLength: 40 }).map((text) => `{"format": "peftjs-adapter", ${text}`),
        ),
        async (document) => {
          await loadWith(document);
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });

  it("rejects hostile HF PEFT adapter_config.json files (peft_type and the method's fields) with a typed error naming the field", async () => {
    const hf = { peft_type: 'TEST_SCALE', target_paths: ['encoder.layers.0.ffn.down', 'encoder.layers.1.ffn.down'] };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.constantFrom(['peft_type'], ['target_paths'], ['target_paths', '0']), fc.oneof(hostileJson, hostileString), fc.boolean()).map(([path, value, remove]) => mutateAt(hf, path, value, remove)),
          fc.record({ peft_type: fc.oneof(fc.constantFrom('TEST_SCALE', 'LORA', 'IA3', 'ADALORA'), hostileString) }).chain((base) => fc.dictionary(hostileString, hostileJson, { maxKeys: 3 }).map((extra) => ({ ...extra, ...base }))),
        ),
        async (document) => {
          await loadWith(document, hfWork);
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
  });
});
