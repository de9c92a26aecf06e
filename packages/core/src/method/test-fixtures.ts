/**
 * Test-only fixtures for the method/ and report/ tests: a tiny module tree with the reference
 * models' roles and `encoder.layers.<i>` paths, and small methods built with definePeftMethod.
 * Not exported from the package.
 */
import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import type { ModelOutput } from '../models/types';
import { LayerNorm } from '../nn/layer-norm';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { setGlobalSeed } from '../util/random';
import { definePeftMethod } from './define-method';
import type { AnyModule } from './erased-types';
import { resolveTargets, targetSelectorSchema } from './selector';
import type { AppliedMethod } from './types';

export const HIDDEN = 4;
export const FFN = 8;

/** An attention-like sublayer: output(query(x) · sigmoid(value(x))), plus an optional `prefix` slot. */
export class TinyAttention extends Module {
  /** The slot a prefix-like method fills (held outside the tree, as a slot may be). */
  prefix: AnyModule | undefined;

  constructor() {
    super();
    this.role = 'attention';
    this.registerModule('query', new Linear(HIDDEN, HIDDEN, { role: 'attention.query' }));
    this.registerModule('value', new Linear(HIDDEN, HIDDEN, { role: 'attention.value' }));
    this.registerModule('output', new Linear(HIDDEN, HIDDEN, { role: 'attention.output' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const mixed = tf.mul(this.child('query').forward(x), tf.sigmoid(this.child('value').forward(x)));
      const out = this.child('output').forward(mixed) as tf.Tensor;
      return this.prefix ? tf.add(out, this.prefix.forward(x) as tf.Tensor) : out;
    });
  }
}

export class TinyFfn extends Module {
  constructor() {
    super();
    this.role = 'ffn';
    this.registerModule('up', new Linear(HIDDEN, FFN, { role: 'ffn.up' }));
    this.registerModule('down', new Linear(FFN, HIDDEN, { role: 'ffn.down' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child('down').forward(tf.relu(this.child('up').forward(x))));
  }
}

/** Post-LN block: h = norm(x + attention(x)); out = h + ffn(h). */
export class TinyBlock extends Module {
  constructor() {
    super();
    this.role = 'block';
    this.registerModule('attention', new TinyAttention());
    this.registerModule('attentionNorm', new LayerNorm(HIDDEN, { role: 'norm.attention', eps: 1e-5 }));
    this.registerModule('ffn', new TinyFfn());
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.child('attentionNorm').forward(tf.add(x, this.child('attention').forward(x))) as tf.Tensor;
      return tf.add(h, this.child('ffn').forward(h));
    });
  }
}

export class TinyStack extends Module {
  constructor(layers: number) {
    super();
    for (let i = 0; i < layers; i++) this.registerModule(String(i), new TinyBlock());
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.children().reduce((h, [, block]) => block.forward(h) as tf.Tensor, x));
  }
}

export class TinyEncoder extends Module {
  constructor(layers: number) {
    super();
    this.registerModule('layers', new TinyStack(layers));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.child('layers').forward(x);
  }
}

/**
 * encoder.layers.<i>.{attention.{query,value,output}, attentionNorm, ffn.{up,down}} + head (4 -> 2).
 * Biases are random (not zero) so merges and bias edits show in the outputs. A regression "task".
 */
export class TinyModel extends Module {
  readonly task = 'regression' as const;

  constructor(seed = 7, layers = 2) {
    super();
    setGlobalSeed(seed);
    this.role = 'model';
    this.registerModule('encoder', new TinyEncoder(layers));
    this.registerModule('head', new Linear(HIDDEN, 2, { role: 'head' }));
    let biasSeed = seed * 1000;
    for (const [, parameter] of this.namedParameters()) {
      if (parameter.kind === 'bias') parameter.assign(tf.tidy(() => tf.randomUniform(parameter.shape, -0.5, 0.5, 'float32', biasSeed++)));
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child('head').forward(this.child('encoder').forward(x)));
  }

  taskLoss(output: ModelOutput, labels: tf.Tensor): tf.Scalar {
    return tf.tidy(() => tf.mean(tf.square(tf.sub(output.logits.slice([0, 0], [-1, 1]).reshape([-1]), labels))) as tf.Scalar);
  }
}

/** Parameters in TinyModel(seed, 2): per block q, v, o (20 each), norm 8, up 40, down 36; head 10. */
export const TINY_MODEL_PARAMETERS = 2 * (20 * 3 + 8 + 40 + 36) + 10;
/** Bias entries in TinyModel: per block 4 + 4 + 4 + 8 + 4; head 2. */
export const TINY_MODEL_BIASES = 2 * (4 * 3 + 8 + 4) + 2;

export const TEST_PACKAGE = '@peftjs/test-fixtures';

/** A BitFit-like selective method: unfreezes the selected parameters (biases by default). */
export const biasOnly = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/bias-only',
  packageName: TEST_PACKAGE,
  kind: 'selective',
  configSchema: z.object({ targets: targetSelectorSchema.default({ tensorKinds: ['bias'] }) }),
  apply(model, config): AppliedMethod {
    const targets = resolveTargets(model, config.targets, { kind: 'parameter' });
    const wasTrainable = targets.map((t) => t.parameter.trainable);
    for (const target of targets) target.parameter.unfreeze();
    // The base values, for setEnabled(false); clones share the buffer until a value is reassigned.
    const originals = targets.map((t) => tf.clone(t.parameter.variable));
    let trained: tf.Tensor[] | undefined;
    return {
      name: 'test/bias-only',
      claims: targets.map((t) => ({ kind: 'train' as const, path: t.path })),
      parameters: () => targets.map((t) => t.parameter),
      state: () => Object.fromEntries(targets.map((t) => [t.path, t.parameter.value])),
      load: (state) => targets.forEach((t) => t.parameter.assign(state[t.path]!)),
      // The change already lives in the base weights.
      merge: () => undefined,
      unmerge: () => undefined,
      setEnabled(enabled) {
        if (!enabled && !trained) {
          trained = targets.map((t) => tf.clone(t.parameter.variable));
          targets.forEach((t, i) => t.parameter.assign(originals[i]!));
        } else if (enabled && trained) {
          targets.forEach((t, i) => t.parameter.assign(trained![i]!));
          tf.dispose(trained);
          trained = undefined;
        }
      },
      remove() {
        targets.forEach((t, i) => (t.parameter.trainable = wasTrainable[i]!));
        tf.dispose(originals);
      },
    };
  },
});

/** y = base(x) · scale, per output feature ((IA)3-like); merges into W and b. */
export class ScaledLinear extends Module {
  enabled = true;
  merged = false;

  constructor(base: Linear, init: number) {
    super();
    this.role = base.role;
    this.registerModule('base', base);
    this.registerParameter('scale', new Parameter(tf.fill([base.outFeatures], init), { kind: 'weight' }));
  }

  get base(): Linear {
    return this.child<Linear>('base');
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.base.forward(x);
      return this.enabled && !this.merged ? tf.mul(y, this.parameter('scale').value) : y;
    });
  }

  merge(): void {
    const scale = this.parameter('scale').value;
    this.base.weight.assign(tf.tidy(() => tf.mul(this.base.weight.value, scale)));
    if (this.base.bias) this.base.bias.assign(tf.tidy(() => tf.mul(this.base.bias!.value, scale)));
    this.merged = true;
  }

  unmerge(): void {
    const scale = this.parameter('scale').value;
    this.base.weight.assign(tf.tidy(() => tf.div(this.base.weight.value, scale)));
    if (this.base.bias) this.base.bias.assign(tf.tidy(() => tf.div(this.base.bias!.value, scale)));
    this.merged = false;
  }
}

const HF_PREFIX = 'base_model.model.';

/** A scaling-vector additive method with merge, setEnabled, remove and HF-format hooks. */
export const scaleVector = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/scale',
  packageName: TEST_PACKAGE,
  packageVersion: '0.0.1',
  kind: 'additive',
  configSchema: z.object({
    targets: targetSelectorSchema.default({ roles: ['attention.value', 'ffn.down'] }),
    init: z.number().default(1),
  }),
  hf: {
    peftType: 'TEST_SCALE',
    configFromHf: (hf) => ({ targets: { paths: hf.target_paths as string[] }, init: 1 }),
  },
  apply(model, config): AppliedMethod {
    const targets = resolveTargets(model, config.targets, { kind: 'module' });
    const wrappers = targets.map(({ path, module }) => {
      if (!(module instanceof Linear)) {
        throw new PeftError('invalid-config', `test/scale wraps Linear modules; ${path} is a ${module.constructor.name}.`, { field: 'test/scale.targets', value: path, allowed: 'Linear modules' });
      }
      return { path, wrapper: model.replaceModule(path, (current) => new ScaledLinear(current as Linear, config.init)) };
    });
    const state = (): Record<string, tf.Tensor> => Object.fromEntries(wrappers.map(({ path, wrapper }) => [`${path}.scale`, wrapper.parameter('scale').value]));
    return {
      name: 'test/scale',
      claims: wrappers.map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => wrappers.map(({ wrapper }) => wrapper.parameter('scale')),
      state,
      load: (saved) => wrappers.forEach(({ path, wrapper }) => wrapper.parameter('scale').assign(saved[`${path}.scale`]!)),
      merge: () => wrappers.forEach(({ wrapper }) => wrapper.merge()),
      unmerge: () => wrappers.forEach(({ wrapper }) => wrapper.unmerge()),
      setEnabled: (enabled) => wrappers.forEach(({ wrapper }) => (wrapper.enabled = enabled)),
      remove() {
        for (const { path, wrapper } of wrappers) {
          model.replaceModule(path, () => wrapper.base);
          wrapper.parameter('scale').dispose();
        }
      },
      exportHf: () => ({
        config: { peft_type: 'TEST_SCALE', target_paths: wrappers.map(({ path }) => path) },
        tensors: Object.fromEntries(wrappers.map(({ path, wrapper }) => [`${HF_PREFIX}${path}.scale_vector`, tf.clone(wrapper.parameter('scale').value)])),
      }),
      loadHf: (tensors) => wrappers.forEach(({ path, wrapper }) => wrapper.parameter('scale').assign(tensors[`${HF_PREFIX}${path}.scale_vector`]!)),
    };
  },
});

/** y = base(x) + c: a wrapper that composes with others; can be disabled, cannot merge. */
export class ShiftedModule extends Module {
  enabled = true;

  constructor(base: AnyModule, size: number, value: number) {
    super();
    this.role = base.role;
    this.registerModule('base', base);
    this.registerParameter('shift', new Parameter(tf.fill([size], value), { kind: 'bias' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.child('base').forward(x) as tf.Tensor;
      return this.enabled ? tf.add(y, this.parameter('shift').value) : y;
    });
  }
}

export const addShift = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/add-shift',
  packageName: TEST_PACKAGE,
  kind: 'additive',
  configSchema: z.object({ targets: targetSelectorSchema, size: z.number().int().min(1), value: z.number().default(1) }),
  apply(model, config): AppliedMethod {
    const targets = resolveTargets(model, config.targets, { kind: 'module' });
    const wrappers = targets.map(({ path }) => ({ path, wrapper: model.replaceModule(path, (current) => new ShiftedModule(current, config.size, config.value)) }));
    return {
      name: 'test/add-shift',
      claims: wrappers.map(({ path }) => ({ kind: 'wrap' as const, path })),
      parameters: () => wrappers.map(({ wrapper }) => wrapper.parameter('shift')),
      state: () => Object.fromEntries(wrappers.map(({ path, wrapper }) => [`${path}.shift`, wrapper.parameter('shift').value])),
      load: (saved) => wrappers.forEach(({ path, wrapper }) => wrapper.parameter('shift').assign(saved[`${path}.shift`]!)),
      setEnabled: (enabled) => wrappers.forEach(({ wrapper }) => (wrapper.enabled = enabled)),
      remove() {
        for (const { path, wrapper } of wrappers) {
          model.replaceModule(path, () => wrapper.child('base'));
          wrapper.parameter('shift').dispose();
        }
      },
    };
  },
});

/** Fills each selected attention's `prefix` slot with a Linear: a slot claim; no merge, no setEnabled. */
export const prefixSlot = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/prefix',
  packageName: TEST_PACKAGE,
  kind: 'additive',
  configSchema: z.object({ targets: targetSelectorSchema.default({ moduleTypes: ['TinyAttention'] }) }),
  apply(model, config): AppliedMethod {
    const targets = resolveTargets(model, config.targets, { kind: 'module' }).map(({ path, module }) => ({ path, attention: module as TinyAttention }));
    const filled = targets.map(({ path, attention }) => {
      const prefix = new Linear(HIDDEN, HIDDEN, { bias: false });
      attention.prefix = prefix;
      return { path, prefix, attention };
    });
    return {
      name: 'test/prefix',
      claims: filled.map(({ path }) => ({ kind: 'slot' as const, path: `${path}.prefix` })),
      parameters: () => filled.map(({ prefix }) => prefix.weight),
      state: () => Object.fromEntries(filled.map(({ path, prefix }) => [`${path}.prefix.weight`, prefix.weight.value])),
      load: (saved) => filled.forEach(({ path, prefix }) => prefix.weight.assign(saved[`${path}.prefix.weight`]!)),
      remove() {
        for (const { attention, prefix } of filled) {
          attention.prefix = undefined;
          prefix.dispose();
        }
      },
    };
  },
});

/** Hand-made input batch [3, HIDDEN]. */
export function sampleInput(): tf.Tensor2D {
  return tf.tensor2d([
    [0.5, -1, 0.25, 2],
    [-0.3, 0.8, 1.5, -0.7],
    [1, 1, -1, 0],
  ]);
}

/** Max |a - b| over two tensors (read synchronously). */
export function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}
