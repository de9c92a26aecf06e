import fc from 'fast-check';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfBert, saveHfBert } from '../io/hf-bert';
import { loadHfGpt2, saveHfGpt2 } from '../io/hf-gpt2';
import { createBert } from '../models/bert-model';
import { createGpt } from '../models/gpt-model';
import { tf } from '../nn/tf';
import { FUZZ_RUNS, acceptsOrRejectsTypedAsync, hostileJson, hostileNumber, hostileString, mutateAt } from './hostile-input';

let root: string;
const configs: Record<'bert' | 'gpt2', Record<string, unknown>> = { bert: {}, gpt2: {} };

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  root = await mkdtemp(join(tmpdir(), 'peftjs-fuzz-hf-config-'));
  await mkdir(join(root, 'bert'));
  await mkdir(join(root, 'gpt2'));
  const bert = createBert({ vocabSize: 30, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 16, task: 'sequence-classification', numLabels: 2 });
  await saveHfBert(bert, join(root, 'bert'));
  bert.dispose();
  const gpt = createGpt({ vocabSize: 30, hiddenSize: 8, numLayers: 2, numHeads: 2, maxPositions: 16, task: 'causal-lm' });
  await saveHfGpt2(gpt, join(root, 'gpt2'));
  gpt.dispose();
  for (const kind of ['bert', 'gpt2'] as const) {
    configs[kind] = JSON.parse(await readFile(join(root, kind, 'config.json'), 'utf8')) as Record<string, unknown>;
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const loaders = { bert: loadHfBert, gpt2: loadHfGpt2 };

/** Writes a hostile config.json next to the saved (valid) weights and loads the model from them. */
async function loadWith(kind: 'bert' | 'gpt2', config: unknown): Promise<void> {
  const directory = join(root, kind);
  await writeFile(join(directory, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  const before = tf.memory().numTensors;
  let model: { dispose(): void } | undefined;
  await acceptsOrRejectsTypedAsync(async () => {
    model = (await loaders[kind](directory)).model;
  });
  model?.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

/** Sizes a config can declare: small ones that disagree with the weights and huge ones nothing could allocate. */
const hostileSize = fc.oneof(hostileNumber, fc.constantFrom(1, 3, 7, 9, 31, 4096, 1_000_000, 2 ** 24, 2 ** 30, 2 ** 31 - 1));

describe('the HF model config.json readers on hostile input', () => {
  it.each(['bert', 'gpt2'] as const)('the saved %s config loads (the control the mutations start from)', async (kind) => {
    await writeFile(join(root, kind, 'config.json'), JSON.stringify(configs[kind]));
    const { model } = await loaders[kind](join(root, kind));
    expect(model.parameters().length).toBeGreaterThan(10);
    model.dispose();
  });

  it.each(['bert', 'gpt2'] as const)('rejects a %s config.json with one hostile field, never allocating from a declared size', async (kind) => {
    const fields = Object.keys(configs[kind]);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), fc.oneof(hostileSize, hostileJson, hostileString), fc.boolean(), async (field, value, remove) => {
        await loadWith(kind, mutateAt(configs[kind], [field], value, remove));
      }),
      // First the inputs that crashed the reader before it checked declared sizes against the weights
      // (a RangeError from allocating a 2^53-row embedding; a model of 2^30 layers).
      { numRuns: FUZZ_RUNS / 2, examples: kind === 'bert' ? [['type_vocab_size', 2 ** 53 - 1, false], ['num_hidden_layers', 2 ** 30, false]] : [['n_positions', 2 ** 31 - 1, false], ['n_layer', 2 ** 30, false]] },
    );
  });

  it.each(['bert', 'gpt2'] as const)('rejects %s config.json files with several hostile sizes at once, or whole hostile documents', async (kind) => {
    const sizeFields = Object.entries(configs[kind]).filter(([, value]) => typeof value === 'number').map(([key]) => key);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.dictionary(fc.constantFrom(...sizeFields), hostileSize, { minKeys: 1, maxKeys: 4 }).map((sizes) => ({ ...configs[kind], ...sizes })),
          hostileJson,
          fc.string({ maxLength: 30 }),
        ),
        async (document) => {
          await loadWith(kind, document);
        },
      ),
      // A document that is not an object was rejected with an empty field name before.
      { numRuns: FUZZ_RUNS / 2, examples: [[0], [[]]] },
    );
  });
});
