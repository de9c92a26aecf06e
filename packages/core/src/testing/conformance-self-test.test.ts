/**
 * The conformance suite's own test: it runs the suite against a correct method and against methods
 * broken on purpose, one fault each, and requires every fault to be caught by the check meant for it.
 * A suite that lets one of these through would pass a broken method in any package that runs it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { definePeftMethod } from '../method/define-method';
import { resolveTargets, targetSelectorSchema } from '../method/selector';
import type { AppliedMethod } from '../method/types';
import type { LayerContext, Sublayer } from '../models/slots';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { z } from '../util/schema';
import { conformanceChecks, type ConformanceCase, type ConformanceCheckId } from './conformance';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** The one thing each broken variant does wrong. */
type Fault = 'none' | 'wrong-merge' | 'leaks-tensors' | 'undeclared-trainable' | 'load-ignores-a-tensor' | 'load-ignores-everything';

/** Adds a learned vector to the output of a block's `ffn`; merges by folding it into `ffn.down`'s bias. */
class OffsetSublayer extends Module<[tf.Tensor, LayerContext], tf.Tensor> {
  enabled = true;
  merged = false;

  constructor(
    inner: Sublayer,
    width: number,
    private readonly fault: Fault,
  ) {
    super();
    this.registerModule('inner', inner);
    this.registerParameter('offset', new Parameter(tf.zeros([width]), { kind: 'bias' }));
  }

  private get downBias(): Parameter {
    return this.child('inner').child('down').parameter('bias');
  }

  forward(hidden: tf.Tensor, context: LayerContext): tf.Tensor {
    const out = this.child<Sublayer>('inner').forward(hidden, context);
    // A tensor created outside any tidy and never disposed: one more live tensor per forward.
    if (this.fault === 'leaks-tensors') tf.keep(tf.zeros([1]));
    if (!this.enabled || this.merged) return out;
    return tf.tidy(() => tf.add(out, this.parameter('offset').value));
  }

  merge(): void {
    // The broken variant folds half the offset: merged outputs differ from unmerged ones.
    const factor = this.fault === 'wrong-merge' ? 0.5 : 1;
    tf.tidy(() => this.downBias.assign(tf.add(this.downBias.value, tf.mul(this.parameter('offset').value, factor))));
    this.merged = true;
  }

  unmerge(): void {
    const factor = this.fault === 'wrong-merge' ? 0.5 : 1;
    tf.tidy(() => this.downBias.assign(tf.sub(this.downBias.value, tf.mul(this.parameter('offset').value, factor))));
    this.merged = false;
  }
}

const offsetMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/ffn-offset-faults',
  packageName: '@peftjs/core',
  kind: 'additive',
  configSchema: z.strictObject({
    targets: targetSelectorSchema.default({ roles: ['ffn'] }),
    fault: z.enum(['none', 'wrong-merge', 'leaks-tensors', 'undeclared-trainable', 'load-ignores-a-tensor', 'load-ignores-everything']).default('none'),
  }),
  apply(model, config): AppliedMethod {
    const fault = config.fault;
    const wrapped = resolveTargets(model, config.targets, { kind: 'module' }).map(({ path, module }) => {
      const width = (module.child('down') as unknown as { outFeatures: number }).outFeatures;
      return { path, layer: model.replaceModule(path, (inner) => new OffsetSublayer(inner as Sublayer, width, fault)) };
    });
    const owned = new Map(wrapped.map(({ path, layer }) => [`${path}.offset`, layer.parameter('offset')]));
    // Trains a base weight it does not declare: the optimizer would update it, the adapter file would not hold it.
    if (fault === 'undeclared-trainable') wrapped[0]!.layer.child('inner').child('up').parameter('weight').unfreeze();
    return {
      name: 'test/ffn-offset-faults',
      claims: wrapped.map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => [...owned.values()],
      setEnabled: (enabled) => wrapped.forEach(({ layer }) => (layer.enabled = enabled)),
      merge: () => wrapped.forEach(({ layer }) => layer.merge()),
      unmerge: () => wrapped.forEach(({ layer }) => layer.unmerge()),
      state: () => Object.fromEntries([...owned].map(([key, p]) => [key, p.value as tf.Tensor])),
      load: (state) => {
        const keys = [...owned.keys()];
        for (const key of keys) {
          if (!(key in state)) throw new PeftError('checkpoint-mismatch', `missing ${key}`, { field: 'state', value: Object.keys(state), allowed: keys });
        }
        const loaded = fault === 'load-ignores-everything' ? [] : fault === 'load-ignores-a-tensor' ? keys.slice(0, -1) : keys;
        for (const key of loaded) owned.get(key)!.assign(state[key]!);
      },
    };
  },
});

async function failedChecks(testCase: ConformanceCase): Promise<Map<ConformanceCheckId, string>> {
  const failed = new Map<ConformanceCheckId, string>();
  for (const check of conformanceChecks(testCase)) {
    try {
      await check.run();
    } catch (error) {
      failed.set(check.id, error instanceof Error ? error.message : String(error));
    }
  }
  return failed;
}

const withFault = (fault: Fault) => () => [offsetMethod({ fault })];

describe('the conformance suite on methods broken on purpose', () => {
  it('passes the correct method on every check (the control)', async () => {
    const checks = conformanceChecks({ name: 'correct', methods: withFault('none') }).map((check) => check.id);
    expect(checks).toEqual(['identity-at-init', 'trains-declared-parameters', 'no-tensor-leak', 'merge-parity', 'disable-enable', 'save-load']);
    expect(await failedChecks({ name: 'correct', methods: withFault('none') })).toEqual(new Map());
  });

  it.each([
    ['wrong-merge', 'merge-parity'],
    ['leaks-tensors', 'no-tensor-leak'],
    ['undeclared-trainable', 'trains-declared-parameters'],
    ['load-ignores-a-tensor', 'save-load'],
  ] as const)('catches a method with fault %s in the %s check, and only there', async (fault, check) => {
    const failed = await failedChecks({ name: fault, methods: withFault(fault) });
    expect([...failed.keys()]).toEqual([check]);
  });

  it('refuses a perturbation that leaves the outputs where they were, so a load that ignores everything is caught', async () => {
    // Without the guard, a no-op perturbation leaves the method at init, where ignoring the file loads the same outputs.
    const failed = await failedChecks({ name: 'no-op perturbation', methods: withFault('load-ignores-everything'), perturb: () => undefined });
    expect([...failed.keys()].sort()).toEqual(['disable-enable', 'merge-parity', 'save-load']);
    expect(failed.get('save-load')).toMatch(/minimumPerturbationEffect/);
    // With the default perturbation, the same broken load is caught by the round trip itself.
    const perturbed = await failedChecks({ name: 'ignores everything', methods: withFault('load-ignores-everything') });
    expect([...perturbed.keys()]).toEqual(['save-load']);
  });

  it('catches a config check that accepts what it should reject', async () => {
    const failed = await failedChecks({
      name: 'lenient config',
      methods: withFault('none'),
      // This config is valid, so the method accepts it: the check must fail.
      invalidConfigs: [{ method: offsetMethod, config: { fault: 'none' }, field: 'fault' }],
    });
    expect([...failed.keys()]).toEqual(['rejects-invalid-config']);
  });
});
