import {
  Module,
  Parameter,
  PeftError,
  SeedStream,
  attachPrefixProviders,
  definePeftMethod,
  fromSlotProviders,
  gate,
  loadPeft,
  peft,
  registerMethod,
  tf,
  z,
  type PeftModel,
  type PrefixKeyValue,
  type PrefixRequest,
} from '@peftjs/core';
import { conformanceBatch, disposeBatch, type ConformanceModel } from '@peftjs/core/testing';
import { createTestBert } from './test-model';
import type { LoraLinear} from '@peftjs/lora';
import { lora } from '@peftjs/lora';
import '@peftjs/lora/register';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A minimal prefix method for this test: P trainable key and value rows per layer. */
class TablePrefix extends Module<[request: PrefixRequest], PrefixKeyValue> {
  readonly length: number;
  constructor(length: number, hidden: number, seed: number) {
    super();
    this.length = length;
    this.registerParameter('key', new Parameter(tf.randomNormal([length, hidden], 0, 1, 'float32', seed)));
    this.registerParameter('value', new Parameter(tf.randomNormal([length, hidden], 0, 1, 'float32', seed + 1)));
  }
  forward({ batchSize }: PrefixRequest): PrefixKeyValue {
    return tf.tidy(() => ({
      key: tf.tile(this.parameter('key').value.expandDims(0), [batchSize, 1, 1]),
      value: tf.tile(this.parameter('value').value.expandDims(0), [batchSize, 1, 1]),
    }));
  }
}

const tablePrefix = definePeftMethod({
  specificationVersion: 'v1',
  name: 'test/table-prefix',
  packageName: '@peftjs/bench',
  kind: 'additive',
  configSchema: z.strictObject({ length: z.number().int().positive().default(2) }),
  apply(model, config, context) {
    const targets = attachPrefixProviders(model, context, 'test/table-prefix', (layer) => new TablePrefix(config.length, context.model!.hiddenSize, 100 + layer));
    return fromSlotProviders('test/table-prefix', model, targets, context.adapterName);
  },
});
registerMethod(tablePrefix);

const loraConfig = lora({ r: 4, alpha: 8, targets: { roles: ['attention.query', 'attention.value'] } });
const unipeltLike = () => [loraConfig, tablePrefix({ length: 2 }), gate({ methods: ['lora', 'test/table-prefix'] })];

function perturb(model: PeftModel<ConformanceModel>, seed: number, std = 0.5): void {
  const random = new SeedStream(seed);
  for (const parameter of model.trainableParameters()) tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, std, 'float32', random.nextSeed()))));
}

describe('gates on contributions (UniPELT-style, on LoRA and a prefix)', () => {
  it('puts one gate on every LoRA wrapper and every prefix slot, and trains them', () => {
    const base = createTestBert();
    const tuned = peft(base, unipeltLike());
    const gates = tuned.model.namedModules().filter(([path]) => /gate_/.test(path.split('.').at(-1) ?? ''));
    // 2 layers × (query, value) LoRA gates + 2 prefix gates.
    expect(gates.map(([path]) => path).sort()).toEqual(
      ['encoder.layers.0.attention.prefix.gate_default_test_table-prefix', 'encoder.layers.0.attention.query.gate_default', 'encoder.layers.0.attention.value.gate_default', 'encoder.layers.1.attention.prefix.gate_default_test_table-prefix', 'encoder.layers.1.attention.query.gate_default', 'encoder.layers.1.attention.value.gate_default'].sort(),
    );
    const gateParameters = tuned.entries()[2]!.applied.parameters();
    expect(gateParameters).toHaveLength(6 * 2);
    expect(new Set(tuned.trainableParameters())).toEqual(new Set([...tuned.entries().flatMap((entry) => entry.applied.parameters())]));
    expect(tuned.canMerge()).toBe(false);
    expect(() => tuned.merge()).toThrow(PeftError);
  });

  it('scales a LoRA contribution by mean_t σ(x·W_g + b_g), computed independently', () => {
    const base = createTestBert();
    base.eval();
    const tuned = peft(base, unipeltLike());
    perturb(tuned, 3);
    const layer = tuned.model.getModule<LoraLinear>('encoder.layers.0.attention.query');
    const x = tf.randomNormal([2, 5, layer.inFeatures], 0, 1, 'float32', 9);
    const gateModule = layer.child('gate_default');
    const wg = gateModule.getParameter('projection.weight').value;
    const bg = gateModule.getParameter('projection.bias').value;
    const expected = tf.tidy(() => {
      const baseOut = layer.base.forward(x);
      const delta = tf.matMul(tf.matMul(x.reshape([10, -1]), layer.loraA.value), layer.loraB.value).mul(layer.scaling).reshape(baseOut.shape);
      const g = tf.mean(tf.sigmoid(tf.add(tf.matMul(x.reshape([10, -1]), wg).reshape([2, 5, 1]), bg)), 1).reshape([2, 1, 1]);
      return { out: tf.add(baseOut, tf.mul(g, delta)), deltaSize: tf.max(tf.abs(tf.mul(g, delta))).dataSync()[0]! };
    });
    const actual = layer.forward(x);
    expect(expected.deltaSize).toBeGreaterThan(1e-2);
    expect(tf.max(tf.abs(tf.sub(actual, expected.out))).dataSync()[0]).toBeLessThan(1e-5);
  });

  it('scales prefix keys and values by the gate: a closed gate equals zero prefix rows, an open one the plain prefix', () => {
    const base = createTestBert();
    base.eval();
    const batch = conformanceBatch(base, { batch: 3, seq: 5 });
    const tuned = peft(base, [tablePrefix({ length: 2 }), gate({ methods: ['test/table-prefix'] })]);
    const plainGatedOpen = () => tf.tidy(() => Array.from(tuned.forward(batch).logits.dataSync()));
    const setGateBias = (value: number) => {
      for (const [path, parameter] of tuned.model.namedParameters()) if (path.includes('gate_') && path.endsWith('projection.bias')) parameter.assign(tf.fill(parameter.shape, value));
      for (const [path, parameter] of tuned.model.namedParameters()) if (path.includes('gate_') && path.endsWith('projection.weight')) parameter.assign(tf.zerosLike(parameter.value));
    };
    setGateBias(40); // σ(40) = 1: the prefix as if ungated
    const open = plainGatedOpen();
    const reference = peft(createTestBert(), [tablePrefix({ length: 2 })]);
    reference.model.eval();
    for (const [path, parameter] of reference.model.namedParameters()) tf.tidy(() => parameter.assign(tuned.model.getParameter(path).value));
    const ungated = tf.tidy(() => Array.from(reference.forward(batch).logits.dataSync()));
    expect(Math.max(...open.map((v, i) => Math.abs(v - ungated[i]!)))).toBeLessThan(1e-5);
    setGateBias(-40); // σ(−40) = 0: zero keys and values
    const closed = plainGatedOpen();
    for (const [path, parameter] of reference.model.namedParameters()) if (/prefix.*\.(key|value)$/.test(path)) parameter.assign(tf.zerosLike(parameter.value));
    const zeroRows = tf.tidy(() => Array.from(reference.forward(batch).logits.dataSync()));
    expect(Math.max(...closed.map((v, i) => Math.abs(v - zeroRows[i]!)))).toBeLessThan(1e-5);
    expect(Math.max(...closed.map((v, i) => Math.abs(v - open[i]!)))).toBeGreaterThan(1e-3);
    disposeBatch(batch);
  });

  it('gets gate gradients that match finite differences on an O(1) loss', () => {
    const base = createTestBert();
    base.eval();
    const batch = conformanceBatch(base, { batch: 3, seq: 5 });
    const tuned = peft(base, unipeltLike());
    perturb(tuned, 5, 0.8);
    const weights = tf.randomNormal([3, 3], 0, 1, 'float32', 77);
    const loss = () => tf.sum(tf.mul(tuned.forward(batch).logits, weights)) as tf.Scalar;
    const gateParameters = tuned.entries()[2]!.applied.parameters().filter((p) => p.shape.length === 1);
    const { grads } = tf.variableGrads(loss, gateParameters.map((p) => p.variable));
    let checked = 0;
    for (const parameter of gateParameters) {
      const analytic = grads[parameter.variable.name]!.dataSync()[0]!;
      const original = parameter.variable.dataSync().slice();
      const at = (delta: number) => {
        const next = original.slice();
        next[0] = next[0]! + delta;
        parameter.variable.assign(tf.tensor(next, parameter.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const eps = 1e-2;
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      parameter.variable.assign(tf.tensor(original, parameter.shape));
      if (Math.abs(analytic) > 1e-2) checked++;
      expect(Math.abs(analytic - numeric)).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
    }
    expect(checked).toBeGreaterThanOrEqual(3);
    tf.dispose(grads);
    disposeBatch(batch);
  });

  it('trains the gated methods below the frozen loss, saves and reloads the whole composition', async () => {
    const base = createTestBert();
    base.eval();
    const batch = conformanceBatch(base, { batch: 6, seq: 6, seed: 21 });
    const frozen = tf.tidy(() => base.taskLoss(base.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const tuned = peft(base, unipeltLike());
    const before = tuned.entries()[2]!.applied.parameters().map((p) => p.variable.dataSync().slice());
    const optimizer = tf.train.adam(0.05);
    const variables = tuned.trainableParameters().map((p) => p.variable);
    let loss = frozen;
    let afterFirstSteps = 0;
    for (let step = 0; step < 60; step++) {
      const cost = optimizer.minimize(() => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask), true, variables)!;
      loss = cost.dataSync()[0]!;
      cost.dispose();
      // Adam's moments exist after the first step; from then on the tensor count stays flat.
      if (step === 1) afterFirstSteps = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(afterFirstSteps);
    optimizer.dispose();
    expect(loss).toBeLessThan(frozen * 0.5);
    const after = tuned.entries()[2]!.applied.parameters().map((p) => p.variable.dataSync());
    expect(after.some((values, i) => values.some((v, j) => Math.abs(v - before[i]![j]!) > 1e-3))).toBe(true);
    const trained = tf.tidy(() => Array.from(tuned.forward(batch).logits.dataSync()));
    const dir = await mkdtemp(join(tmpdir(), 'gated-'));
    try {
      await tuned.save(dir);
      const fresh = createTestBert();
      fresh.eval();
      const reloaded = await loadPeft(fresh, dir);
      const again = tf.tidy(() => Array.from(reloaded.forward(batch).logits.dataSync()));
      expect(Math.max(...again.map((v, i) => Math.abs(v - trained[i]!)))).toBeLessThan(1e-5);
      reloaded.disable();
      const disabled = tf.tidy(() => Array.from(reloaded.forward(batch).logits.dataSync()));
      const plain = createTestBert();
      plain.eval();
      const baseLogits = tf.tidy(() => Array.from(plain.forward(batch).logits.dataSync() as Float32Array));
      expect(Math.max(...disabled.map((v, i) => Math.abs(v - baseLogits[i]!)))).toBeLessThan(1e-5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    disposeBatch(batch);
  });
});
