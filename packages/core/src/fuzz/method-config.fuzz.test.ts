import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { peft } from '../method/peft-model';
import { resolveTargets, targetSelectorSchema } from '../method/selector';
import { TinyModel, addShift, biasOnly, prefixSlot, scaleVector } from '../method/test-fixtures';
import { tf } from '../nn/tf';
import { FUZZ_RUNS, acceptsOrRejectsTyped, hostileJson, hostileString } from './hostile-input';

let shared: TinyModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  shared = new TinyModel();
});

const methods = { biasOnly, scaleVector, addShift, prefixSlot };

/** Path patterns as the selector takes them: globs, `{ regex, flags }` objects (broken regexes included), junk. */
const hostilePattern = fc.oneof(
  hostileString,
  fc.constantFrom('**', '*', 'encoder.layers.*.ffn.down', '**.attention.**', '[', '(', '\\'),
  fc.record({ regex: fc.oneof(hostileString, fc.constantFrom('(', '[a-', '(a+)+$', '.*', '\\'), hostileJson), flags: fc.oneof(hostileString, fc.constantFrom('i', 'g', 'y', 'gg', 'z'), hostileJson) }, { requiredKeys: ['regex'] }),
  hostileJson,
);

/** A target selector with hostile values in any of its fields (and unknown fields). */
const hostileSelector = fc.oneof(
  fc.record(
    {
      roles: fc.oneof(fc.array(fc.oneof(hostileString, fc.constantFrom('attention.*', 'all-linear', 'ffn.down', 'head')), { maxLength: 3 }), hostileJson),
      paths: fc.oneof(fc.array(hostilePattern, { maxLength: 3 }), hostileJson),
      layers: fc.oneof(fc.array(fc.oneof(fc.integer({ min: -2, max: 3 }), fc.double()), { maxLength: 3 }), hostileJson),
      exclude: fc.oneof(fc.array(hostilePattern, { maxLength: 2 }), hostileJson),
      tensorKinds: fc.oneof(fc.array(fc.oneof(hostileString, fc.constantFrom('bias', 'weight', 'gamma')), { maxLength: 2 }), hostileJson),
      moduleTypes: fc.oneof(fc.array(fc.oneof(hostileString, fc.constantFrom('Linear', 'LayerNorm', 'Module')), { maxLength: 2 }), hostileJson),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(hostileString, hostileJson, { maxKeys: 3 }),
  hostileJson,
);

describe('the method config schemas on hostile input', () => {
  it("rejects hostile method configs at the method's factory, or applies them, always with a typed error naming the field", () => {
    let applied = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(methods) as Array<keyof typeof methods>)),
        fc.oneof(
          fc.record({ targets: hostileSelector, init: fc.oneof(fc.double(), hostileJson) }, { requiredKeys: [] }),
          fc.dictionary(hostileString, hostileJson, { maxKeys: 3 }),
          hostileJson,
        ),
        (name, config) => {
          const method = methods[name] as (config: unknown) => ReturnType<typeof biasOnly>;
          let configured: ReturnType<typeof biasOnly> | undefined;
          if (!acceptsOrRejectsTyped(() => (configured = method(config)))) return;
          // An accepted config goes on to selection against a real module tree.
          const model = new TinyModel();
          try {
            if (acceptsOrRejectsTyped(() => peft(model, [configured!]))) applied += 1;
          } finally {
            model.dispose();
          }
        },
      ),
      { numRuns: FUZZ_RUNS },
    );
    // Some inputs must get through to selection, or only the first layer of validation was fuzzed.
    expect(applied).toBeGreaterThan(0);
  });

  it("rejects hostile target selectors (core's selector schema) with a typed error naming the field", () => {
    fc.assert(
      fc.property(hostileSelector, fc.constantFrom('module', 'parameter') as fc.Arbitrary<'module' | 'parameter'>, (selector, kind) => {
        // The schema itself must never throw (safeParse), whatever it is given.
        expect(() => targetSelectorSchema.safeParse(selector)).not.toThrow();
        let configured: ReturnType<typeof biasOnly> | undefined;
        if (!acceptsOrRejectsTyped(() => (configured = biasOnly({ targets: selector as never })))) return;
        // Selection only reads the tree, so one model serves every run.
        acceptsOrRejectsTyped(() => resolveTargets(shared, configured!.config.targets, { kind }));
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
