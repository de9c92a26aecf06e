import { beforeAll } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { definePeftMethod } from '../method/define-method';
import { resolveTargets } from '../method/selector';
import { targetSelectorSchema } from '../method/selector';
import type { AppliedMethod } from '../method/types';
import type { LayerContext, Sublayer } from '../models/slots';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { z } from '../util/schema';
import { describeConformance } from './conformance';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function loadExact(state: Record<string, tf.Tensor>, owned: ReadonlyMap<string, Parameter>): void {
  const keys = Object.keys(state).sort();
  const expected = [...owned.keys()].sort();
  if (keys.join() !== expected.join()) {
    throw new PeftError('checkpoint-mismatch', `keys [${keys.join(', ')}] differ from [${expected.join(', ')}]`, { field: 'state', value: keys, allowed: expected });
  }
  for (const [key, parameter] of owned) parameter.assign(state[key]!);
}

/** A sublayer wrapper adding a learned vector to the output of each block's `ffn`: exercises the sublayer slot. */
class OffsetSublayer extends Module<[tf.Tensor, LayerContext], tf.Tensor> {
  enabled = true;

  constructor(inner: Sublayer, width: number) {
    super();
    this.registerModule('inner', inner);
    this.registerParameter('offset', new Parameter(tf.zeros([width]), { kind: 'bias' }));
  }

  forward(hidden: tf.Tensor, context: LayerContext): tf.Tensor {
    const out = this.child<Sublayer>('inner').forward(hidden, context);
    if (!this.enabled) return out;
    return tf.tidy(() => tf.add(out, this.parameter('offset').value));
  }
}

const ffnOffset = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/ffn-offset',
  packageName: '@peftjs/core',
  kind: 'additive',
  configSchema: z.strictObject({ targets: targetSelectorSchema.default({ roles: ['ffn'] }) }),
  apply(model, config): AppliedMethod {
    const wrapped = resolveTargets(model, config.targets, { kind: 'module' }).map(({ path, module }) => {
      const width = (module.child('down') as unknown as { outFeatures: number }).outFeatures;
      return { path, layer: model.replaceModule(path, (inner) => new OffsetSublayer(inner as Sublayer, width)) };
    });
    const owned = new Map(wrapped.map(({ path, layer }) => [`${path}.offset`, layer.parameter('offset')]));
    return {
      name: 'test/ffn-offset',
      claims: wrapped.map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => [...owned.values()],
      setEnabled: (enabled) => wrapped.forEach(({ layer }) => (layer.enabled = enabled)),
      state: () => Object.fromEntries([...owned].map(([key, p]) => [key, p.value as tf.Tensor])),
      load: (state) => loadExact(state, owned),
    };
  },
});

const normBeta = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/norm-beta',
  packageName: '@peftjs/core',
  kind: 'selective',
  configSchema: z.strictObject({ scale: z.number().positive().default(1) }),
  apply(model): AppliedMethod {
    const owned = new Map(
      resolveTargets(model, { roles: ['norm.*'], tensorKinds: ['beta'] }, { kind: 'parameter' }).map(({ path, parameter }) => [path, parameter.unfreeze()]),
    );
    return {
      name: 'test/norm-beta',
      claims: [...owned.keys()].map((path) => ({ kind: 'train' as const, path })),
      parameters: () => [...owned.values()],
      // The trained entries are the base weights themselves: merging has nothing to fold.
      merge: () => undefined,
      unmerge: () => undefined,
      state: () => Object.fromEntries([...owned].map(([key, p]) => [key, p.value as tf.Tensor])),
      load: (state) => loadExact(state, owned),
    };
  },
});

describeConformance({
  name: 'an additive sublayer wrapper that cannot merge',
  methods: () => [ffnOffset()],
  mergeable: false,
});

describeConformance({
  name: 'a selective method over LayerNorm betas',
  methods: () => [normBeta()],
  supportsDisable: false,
  invalidConfigs: [{ method: normBeta, config: { scale: -1 }, field: 'scale' }],
});

describeConformance({
  name: 'a composition of both',
  methods: () => [normBeta(), ffnOffset({ targets: { roles: ['ffn'], layers: [1] } })],
  mergeable: false,
  supportsDisable: false,
});
