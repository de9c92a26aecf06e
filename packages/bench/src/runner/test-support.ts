// Fixtures for the runner and CLI tests (not exported from the package).
import { createRegistry, definePeftMethod, z, type MethodRegistry, type Parameter, type tf } from '@peftjs/core';
import type { TextTask } from '../tasks/task';
import { BenchTokenizer } from '../tokenizer/bench-tokenizer';
import { trainWordPiece } from '../tokenizer/wordpiece-trainer';
import { scratchBackbone, type BackboneProvider } from './backbone';

/** A selective test method: trains every bias of the model (BitFit's selection, written here so the tests need no family package). */
export const testBiasMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test-bias',
  packageName: '@peftjs/bench-test',
  kind: 'selective',
  description: 'Trains the biases (test fixture).',
  configSchema: z.strictObject({}),
  apply(model) {
    const named = model.namedParameters().filter(([, parameter]) => parameter.kind === 'bias');
    const parameters: Parameter[] = named.map(([, parameter]) => parameter);
    for (const parameter of parameters) parameter.trainable = true;
    return {
      name: 'test-bias',
      parameters: () => parameters,
      claims: named.map(([path]) => ({ kind: 'train' as const, path })),
      merge() {},
      unmerge() {},
      setEnabled() {},
      state: () => Object.fromEntries(named.map(([path, parameter]) => [path, parameter.value as tf.Tensor])),
      load(state) {
        for (const [path, parameter] of named) if (state[path]) parameter.assign(state[path]);
      },
    };
  },
});

export function testRegistry(): MethodRegistry {
  const registry = createRegistry([testBiasMethod]);
  // What the families' register entries declare when they load, without registering their methods.
  registry.declarePackage({ packageName: '@peftjs/lora', methods: ['lora', 'dora'], hfPeftTypes: ['LORA'] });
  registry.declarePackage({ packageName: '@peftjs/prompts', methods: ['prefix-tuning', 'prompt-tuning'] });
  registry.declarePackage({ packageName: '@peftjs/adapters', methods: ['pfeiffer', 'scaled-parallel-adapter', 'houlsby'] });
  return registry;
}

const WORDS = ['whale', 'ship', 'sea', 'captain', 'harpoon', 'deck', 'storm', 'sail'];

/** A two-label toy task: texts with "calm" vs "storm" words, 48 train / 8 validation / 16 test. */
export function toyTask(): TextTask {
  const example = (i: number, split: string) => {
    const label = i % 2;
    const cue = label === 0 ? 'calm quiet still' : 'storm wild loud';
    return { documentId: `${split}-${i}`, text: `the ${WORDS[i % WORDS.length]} was ${cue} ${WORDS[(i * 3) % WORDS.length]} ${i}`, label };
  };
  const split = (name: string, count: number) => Array.from({ length: count }, (_, i) => example(i, name));
  return { name: 'toy', description: 'toy', type: 'sequence-classification', metric: 'accuracy', labels: ['calm', 'storm'], train: split('train', 48), validation: split('validation', 8), test: split('test', 16) };
}

/** A tiny backbone with a tokenizer trained on the toy texts (nothing cached on disk). */
export function tinyBackbone(): BackboneProvider {
  const texts = toyTask().train.map((example) => example.text);
  const tokenizer = BenchTokenizer.fromJson(trainWordPiece(texts, { vocabSize: 120 }).tokenizerJson);
  return scratchBackbone({ hiddenSize: 16, numLayers: 1, numHeads: 2, maxLength: 16, tokenizer });
}
